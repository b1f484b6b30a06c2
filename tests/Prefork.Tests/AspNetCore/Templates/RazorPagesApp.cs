namespace Prefork.Tests.AspNetCore.Templates;

/// <summary>
/// `dotnet new webapp` (Razor Pages), with a page added: a form whose post the page echoes, guarded by the
/// antiforgery token Razor Pages checks on every POST. The page shows which worker rendered it.
/// </summary>
public static class RazorPagesApp
{
    public static readonly string[] Template = ["webapp"];

    public static void Edit(string dir)
    {
        TemplateApp.Write(dir, "Pages/Echo.cshtml", """
            @page
            @model EchoModel
            <p id="pid">@Environment.ProcessId</p>
            <form method="post"><input asp-for="Message" /><button>Send</button></form>
            @if (Model.Message != null)
            {
                <p id="echo">You said: @Model.Message</p>
            }
            """);
        TemplateApp.Write(dir, "Pages/Echo.cshtml.cs", """
            using Microsoft.AspNetCore.Mvc;
            using Microsoft.AspNetCore.Mvc.RazorPages;

            namespace razor.Pages;

            public class EchoModel : PageModel
            {
                [BindProperty]
                public string? Message { get; set; }

                public void OnGet()
                {
                }

                public void OnPost()
                {
                }
            }
            """);
    }
}
