using Microsoft.AspNetCore.Authorization;

namespace Instrumentation.Collector.Security;

/// <summary>
/// The collector's authorization policies. Endpoints (the collector's, and a dashboard's mapped on the same
/// application) require one of them with <c>RequireAuthorization(CollectorPolicies.Read)</c>. Without configured keys
/// both policies allow everyone.
/// </summary>
public static class CollectorPolicies
{
    /// <summary>Uploading events: keys from <c>Collector:IngestKeys</c> or <c>Collector:ApiKeys</c>.</summary>
    public const string Ingest = "collector.ingest";

    /// <summary>Reading events and statistics: keys from <c>Collector:ReadKeys</c> or <c>Collector:ApiKeys</c>.</summary>
    public const string Read = "collector.read";
}

/// <summary>The role claims an authenticated key carries.</summary>
public static class CollectorRoles
{
    /// <summary>May upload.</summary>
    public const string Ingest = "ingest";

    /// <summary>May read.</summary>
    public const string Read = "read";
}

/// <summary>Requires a role, unless the collector runs without keys.</summary>
/// <param name="Role">The role (<see cref="CollectorRoles"/>).</param>
internal sealed record CollectorAccessRequirement(string Role) : IAuthorizationRequirement;

/// <summary>Grants <see cref="CollectorAccessRequirement"/> to a key with the role, or to anyone when no key is configured.</summary>
internal sealed class CollectorAccessHandler(ApiKeyCheck keys) : AuthorizationHandler<CollectorAccessRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, CollectorAccessRequirement requirement)
    {
        if (!keys.Enabled || context.User.IsInRole(requirement.Role))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}
