// Kestrel's defaults, as a .NET user would deploy them; logging off so it does not cost the peer anything.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
app.MapGet("/hello", () => "Hello, World!");
app.Run();
