using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Web;
using Microsoft.AspNetCore.Components.Web.HtmlRendering;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Instrumentation.Collector.Dashboard;

/// <summary>
/// Renders a Razor component to HTML with <see cref="HtmlRenderer"/> and writes it as the response. The pages are
/// static, so the dashboard does without <c>AddRazorComponents</c> and <c>RazorComponentResult</c>: no Blazor endpoint
/// infrastructure, antiforgery or data-protection key ring is added to the collector's pipeline for them.
/// </summary>
/// <typeparam name="TComponent">The page.</typeparam>
/// <param name="parameters">The page's parameters.</param>
internal sealed class ComponentHtmlResult<TComponent>(IReadOnlyDictionary<string, object?> parameters) : IResult
    where TComponent : IComponent
{
    /// <summary>The response's status code. Default 200.</summary>
    public int StatusCode { get; set; } = StatusCodes.Status200OK;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        IServiceProvider services = httpContext.RequestServices;
        await using var renderer = new HtmlRenderer(services, services.GetRequiredService<ILoggerFactory>());
        string html = await renderer.Dispatcher.InvokeAsync(async () =>
        {
            HtmlRootComponent root = await renderer.RenderComponentAsync<TComponent>(ParameterView.FromDictionary(new Dictionary<string, object?>(parameters)));
            return root.ToHtmlString();
        });
        httpContext.Response.StatusCode = StatusCode;
        httpContext.Response.ContentType = "text/html; charset=utf-8";
        await httpContext.Response.WriteAsync(html, httpContext.RequestAborted);
    }
}
