// Kestrel's defaults, as a .NET user would deploy them; logging off so it does not cost the peer anything.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/hello", () => "Hello, World!");
// The body back as it arrives, with its length when the client gave one (as Prefork's demo app answers).
app.MapPost("/echo", async (HttpContext context) =>
{
    context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
    context.Response.ContentLength = context.Request.ContentLength;
    await context.Request.Body.CopyToAsync(context.Response.Body);
});
app.Run();
