using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Instrumentation.Collector.Hosting;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Security;

/// <summary>
/// The collector's one global rate limiter (Microsoft.AspNetCore.RateLimiting), run after authentication: a token
/// bucket per authenticated key; without configured keys, one per client address; with keys configured, requests that
/// present a wrong key, or no key to an endpoint that needs one, share a small per-minute bucket per client address, so
/// guessing keys is limited too (requests to open endpoints without a key use the per-address bucket). Health
/// endpoints are exempt. Beyond a limit: 429 with <c>Retry-After</c> and a problem body. The buckets run on the DI
/// <see cref="TimeProvider"/> (<see cref="ClockTokenBucket"/>).
/// </summary>
internal static class RateLimits
{
    public static IServiceCollection AddCollectorRateLimiter(this IServiceCollection services)
    {
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(Partition);
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                TimeSpan wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                HttpContext http = context.HttpContext;
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = { Status = StatusCodes.Status429TooManyRequests, Title = "Too many requests", Detail = "Over the rate limit; retry after the time in Retry-After." },
                });
            };
        });
        return services;
    }

    private static RateLimitPartition<string> Partition(HttpContext context)
    {
        CollectorOptions options = context.RequestServices.GetRequiredService<IOptions<CollectorOptions>>().Value;
        if (context.User.Identity is { IsAuthenticated: true, Name: { } keyId })
        {
            return PerSecond("key:" + keyId, options, context);
        }

        string address = ClientAddress(context.Connection.RemoteIpAddress);
        if (!context.RequestServices.GetRequiredService<ApiKeyCheck>().Enabled)
        {
            return PerSecond("address:" + address, options, context);
        }

        Endpoint? endpoint = context.GetEndpoint();
        bool needsKey = endpoint?.Metadata.GetMetadata<IAuthorizeData>() is not null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null;
        bool checksAKey = endpoint?.Metadata.GetMetadata<KeyCheckingEndpoint>() is not null; // a sign-in form: every post is a guess
        if (!needsKey && !checksAKey && !ApiKeyAuthenticationHandler.PresentedABadKey(context))
        {
            return PerSecond("address:" + address, options, context); // an open endpoint (or none: 404) asked without a key
        }

        // Keys are configured and this request has none that is valid for an endpoint that needs one: it will be refused,
        // and it counts as a guess.
        int perMinute = options.FailedAuthenticationsPerMinute;
        TimeProvider time = context.RequestServices.GetRequiredService<TimeProvider>();
        return perMinute <= 0
            ? RateLimitPartition.GetNoLimiter("unauthenticated")
            : RateLimitPartition.Get("unauthenticated:" + address, _ => new ClockTokenBucket(time, perMinute, perMinute, TimeSpan.FromMinutes(1)));
    }

    private static RateLimitPartition<string> PerSecond(string partition, CollectorOptions options, HttpContext context)
    {
        if (options.RequestsPerSecondPerKey <= 0)
        {
            return RateLimitPartition.GetNoLimiter("unlimited");
        }

        TimeProvider time = context.RequestServices.GetRequiredService<TimeProvider>();
        return RateLimitPartition.Get(partition, _ => new ClockTokenBucket(time, options.BurstPerKey, options.RequestsPerSecondPerKey, TimeSpan.FromSeconds(1)));
    }

    /// <summary>
    /// The client's partition: its IPv4 address, or its IPv6 /64 network (one host usually holds a whole /64, so a
    /// per-address limit would let it rotate addresses forever).
    /// </summary>
    internal static string ClientAddress(IPAddress? address)
    {
        if (address is null)
        {
            return "unknown";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }

        byte[] bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }
}

/// <summary>
/// Marks an open endpoint that checks a key it is given in its body (the dashboard's sign-in form): the rate limiter puts
/// every request to it in the failed-authentication bucket, since it cannot know before the body is read whether the key
/// is right.
/// </summary>
internal sealed class KeyCheckingEndpoint
{
    public static readonly KeyCheckingEndpoint Instance = new();
}
