namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// `dotnet new webapi --no-openapi` (the minimal API template; OpenAPI would be a NuGet package to restore),
/// with two endpoints added to its Program.cs: one taking and answering JSON, one that waits for the client to
/// go away and says so on stderr, which the master's log shows.
/// </summary>
public static class WebApiApp
{
    public static readonly string[] Template = ["webapi", "--no-openapi"];

    public static string HangStarted(string tag) => $"hang {tag} started";

    public static string HangCancelled(string tag) => $"hang {tag} cancelled by RequestAborted";

    public static void Edit(string dir) => TemplateApp.AddToProgram(dir, $$"""
            app.MapPost("/orders", (Order order) => new Receipt(order.Item, order.Quantity, order.Quantity * 2.5m));

            app.MapGet("/hang/{tag}", async (string tag, HttpContext context) =>
            {
                Console.Error.WriteLine($"{{HangStarted("{tag}")}}");
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    Console.Error.WriteLine($"{{HangCancelled("{tag}")}}");
                }
            });
            """, """
            record Order(string Item, int Quantity);
            record Receipt(string Item, int Quantity, decimal Total);
            """);
}
