using Instrumentation.Collector.Dashboard.Pages;
using Instrumentation.Collector.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Instrumentation.Collector.Dashboard;

/// <summary>
/// <c>GET /login</c> asks for a read key, <c>POST /login</c> checks it and keeps it in the dashboard's cookie,
/// <c>POST /logout</c> (the pages' "Sign out" button) forgets it. Without configured keys there is nothing to sign in to.
/// </summary>
internal static class DashboardSignIn
{
    public static void MapDashboardSignIn(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/login", (string? returnUrl, string? denied, ApiKeyCheck keys) =>
            keys.Enabled
                ? Page(returnUrl, denied is null ? null : "That key may not read: the dashboard needs a read key.", StatusCodes.Status200OK)
                : Results.Redirect(LocalUrl(returnUrl)));
        routes.MapPost("/login", SignInAsync).WithMetadata(Security.KeyCheckingEndpoint.Instance); // limited like failed authentications
        // A POST from the dashboard's own pages (the "Sign out" button): a GET could be triggered by any other site.
        routes.MapPost("/logout", (HttpContext context) =>
        {
            if (IsCrossSite(context.Request))
            {
                return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Cross-site sign-out", detail: "Sign out from the dashboard's own page.");
            }

            context.Response.Cookies.Delete(DashboardAuthenticationHandler.CookieName, CookieOptions(context.Request));
            return Results.Redirect(context.Request.PathBase + "/login");
        });
    }

    private static async Task<IResult> SignInAsync(HttpContext context, ApiKeyCheck keys)
    {
        if (!keys.Enabled)
        {
            return Results.Redirect(context.Request.PathBase + "/");
        }

        // The form is same-origin; a browser says where a POST comes from, and a form posted from elsewhere is refused.
        if (IsCrossSite(context.Request))
        {
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Cross-site sign-in", detail: "Sign in from the dashboard's own page.");
        }

        if (!context.Request.HasFormContentType)
        {
            return Results.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Not a form", detail: "Post the sign-in form (application/x-www-form-urlencoded).");
        }

        IFormCollection form = await context.Request.ReadFormAsync(context.RequestAborted);
        string key = form["key"].ToString().Trim();
        string? returnUrl = form["returnUrl"].ToString();
        ApiKey? found = key.Length == 0 ? null : keys.Find(key);
        if (found is null)
        {
            return Page(returnUrl, "That key is not one of the collector's keys.", StatusCodes.Status401Unauthorized);
        }

        if (!found.Roles.Contains(CollectorRoles.Read))
        {
            return Page(returnUrl, "That is an ingest key: it may upload events but not read them. The dashboard needs a read key (Collector:ReadKeys).", StatusCodes.Status403Forbidden);
        }

        context.Response.Cookies.Append(DashboardAuthenticationHandler.CookieName, key, CookieOptions(context.Request));
        return Results.Redirect(context.Request.PathBase + LocalUrl(returnUrl));
    }

    private static bool IsCrossSite(HttpRequest request)
    {
        string? origin = request.Headers.Origin;
        return !string.IsNullOrEmpty(origin) && origin != "null"
            && !string.Equals(origin, $"{request.Scheme}://{request.Host}", StringComparison.OrdinalIgnoreCase);
    }

    private static CookieOptions CookieOptions(HttpRequest request) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = request.IsHttps,
        Path = request.PathBase.HasValue ? request.PathBase.Value : "/",
        IsEssential = true,
    };

    // Only a path on this site: never an absolute or protocol-relative URL (an open redirect). Browsers drop tabs and
    // line breaks from a Location and read a backslash as '/', so "/<tab>/evil.example" would leave the site: only printable
    // ASCII without backslashes is kept (a return URL built by the challenge is escaped, so it is always that), which
    // also keeps Kestrel from refusing the header (a 500) for a non-ASCII value.
    private static string LocalUrl(string? returnUrl) =>
        !string.IsNullOrEmpty(returnUrl) && returnUrl[0] == '/' && (returnUrl.Length == 1 || returnUrl[1] != '/')
            && returnUrl.All(c => c is > ' ' and < '\x7f' and not '\\')
            ? returnUrl
            : "/";

    private static IResult Page(string? returnUrl, string? error, int status)
    {
        var result = new ComponentHtmlResult<LoginPage>(new Dictionary<string, object?> { ["ReturnUrl"] = LocalUrl(returnUrl), ["Error"] = error });
        result.StatusCode = status;
        return result;
    }
}
