// The ASP.NET Core app of scripts/bench.sh: the Program.cs of a `dotnet new web` app, run as it is both on
// Kestrel alone and under the Prefork master (--app). appsettings.json beside it sets logging to Warning.
var builder = WebApplication.CreateBuilder(args);
var app = builder.Build();
app.MapGet("/hello", () => "Hello, World!");
app.MapGet("/json", () => new { message = "Hello, World!" });
app.Run();
