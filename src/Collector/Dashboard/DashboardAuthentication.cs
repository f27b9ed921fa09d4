using System.Security.Claims;
using System.Text.Encodings.Web;
using Instrumentation.Collector.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Dashboard;

/// <summary>
/// Signing in to the dashboard. A browser cannot send <c>Authorization: Bearer</c> on a page load, so the sign-in page
/// asks for a read key and keeps it in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS); this handler checks
/// that cookie (or a Bearer header, for tools) against the configured keys on every request, exactly like the API-key
/// handler. Keeping the key itself, not a server-side session, means any collector instance behind a load balancer,
/// and a restarted one, accepts it; removing the key from the configuration signs everyone using it out.
/// </summary>
internal sealed class DashboardAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ApiKeyCheck keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    /// <summary>The scheme's name.</summary>
    public const string SchemeName = "DashboardKey";

    /// <summary>The cookie that holds the key.</summary>
    public const string CookieName = "collector_key";

    /// <summary>The policy the dashboard's pages require: a read key, from the cookie or a Bearer header.</summary>
    public const string PolicyName = "collector.dashboard";

    /// <summary>
    /// The default scheme of a collector with a dashboard: a request with an <c>Authorization</c> header, or without the
    /// cookie, is the API-key handler's; a request with only the cookie is this handler's (so rate limits and logs see
    /// the same key either way).
    /// </summary>
    public const string SelectorSchemeName = "Collector";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!keys.Enabled)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        string? presented = null;
        string? header = Request.Headers.Authorization;
        if (!string.IsNullOrEmpty(header))
        {
            if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return Task.FromResult(AuthenticateResult.Fail("The Authorization header is not 'Bearer <key>'."));
            }

            presented = header["Bearer ".Length..].Trim();
        }
        else if (Request.Cookies.TryGetValue(CookieName, out string? cookie) && !string.IsNullOrEmpty(cookie))
        {
            presented = cookie;
        }

        if (presented is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        ApiKey? key = keys.Find(presented);
        if (key is null)
        {
            return Task.FromResult(AuthenticateResult.Fail("The key is not one of the configured keys."));
        }

        var identity = new ClaimsIdentity(SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        identity.AddClaim(new Claim(ClaimTypes.Name, key.Id));
        // Only ever the read role: a browser holding the cookie can look, never upload (even with a key from
        // Collector:ApiKeys, which may do both).
        if (key.Roles.Contains(CollectorRoles.Read))
        {
            identity.AddClaim(new Claim(ClaimTypes.Role, CollectorRoles.Read));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    // No or a wrong key: pages go to the sign-in page; the live tail's poller gets 401 and says so.
    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (IsPoll(Request))
        {
            Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        }

        Response.Redirect(SignInUrl(Request, denied: false));
        return Task.CompletedTask;
    }

    // A valid key without the read role (an ingest key).
    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        if (IsPoll(Request))
        {
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        }

        Response.Redirect(SignInUrl(Request, denied: true));
        return Task.CompletedTask;
    }

    private static bool IsPoll(HttpRequest request) => request.Path.StartsWithSegments("/tail/rows");

    private static string SignInUrl(HttpRequest request, bool denied) =>
        request.PathBase + "/login?returnUrl=" + Uri.EscapeDataString(request.Path + request.QueryString) + (denied ? "&denied=1" : string.Empty);
}

/// <summary>Registers the dashboard's sign-in scheme and policy.</summary>
internal static class DashboardAuthentication
{
    public static void AddDashboardAuthentication(this AuthenticationBuilder authentication, string apiKeyScheme)
    {
        authentication
            .AddScheme<AuthenticationSchemeOptions, DashboardAuthenticationHandler>(DashboardAuthenticationHandler.SchemeName, "Dashboard key (cookie)", configureOptions: null)
            .AddPolicyScheme(DashboardAuthenticationHandler.SelectorSchemeName, "API key or dashboard key", selector =>
                selector.ForwardDefaultSelector = context =>
                    string.IsNullOrEmpty(context.Request.Headers.Authorization) && context.Request.Cookies.ContainsKey(DashboardAuthenticationHandler.CookieName)
                        ? DashboardAuthenticationHandler.SchemeName
                        : apiKeyScheme);
        authentication.Services.Configure<AuthenticationOptions>(options => options.DefaultScheme = DashboardAuthenticationHandler.SelectorSchemeName);
        authentication.Services.AddAuthorizationBuilder().AddPolicy(DashboardAuthenticationHandler.PolicyName, policy => policy
            .AddAuthenticationSchemes(DashboardAuthenticationHandler.SchemeName)
            .AddRequirements(new CollectorAccessRequirement(CollectorRoles.Read)));
    }
}
