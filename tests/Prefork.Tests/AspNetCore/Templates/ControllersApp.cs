namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// `dotnet new webapi --use-controllers --no-openapi`, with a controller added beside the template's: an
/// [ApiController] action binding a validated JSON record.
/// </summary>
public static class ControllersApp
{
    public static readonly string[] Template = ["webapi", "--use-controllers", "--no-openapi"];

    public static void Edit(string dir) => TemplateApp.Write(dir, "Controllers/OrdersController.cs", """
        using System.ComponentModel.DataAnnotations;
        using Microsoft.AspNetCore.Mvc;

        namespace controllers.Controllers;

        [ApiController]
        [Route("[controller]")]
        public class OrdersController : ControllerBase
        {
            [HttpPost]
            public Receipt Post(Order order) => new(order.Item, order.Quantity, order.Quantity * 2.5m);
        }

        public record Order([Required] string Item, [Range(1, 100)] int Quantity);

        public record Receipt(string Item, int Quantity, decimal Total);
        """);
}
