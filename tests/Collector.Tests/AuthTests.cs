using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Instrumentation.Collector.Tests;

/// <summary>API keys, the ingest and read policies, and the rate limiter, over real HTTP.</summary>
public class AuthTests
{
    private const string IngestKey = "ingest-key-0123456789";
    private const string ReadKey = "read-key-0123456789";
    private const string BothKey = "both-key-0123456789";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Ingest_keys_upload_read_keys_read_and_neither_does_the_other()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.IngestKeys = [IngestKey];
            o.ReadKeys = [ReadKey];
            o.ApiKeys = [BothKey];
        });

        Assert.Equal(HttpStatusCode.OK, (await Upload(collector, IngestKey)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Upload(collector, BothKey)).StatusCode);
        await InputTests.AssertProblemAsync(await Upload(collector, ReadKey), HttpStatusCode.Forbidden);
        foreach (string path in new[] { "/logs", "/stats" })
        {
            Assert.Equal(HttpStatusCode.OK, (await Get(collector, path, ReadKey)).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await Get(collector, path, BothKey)).StatusCode);
            await InputTests.AssertProblemAsync(await Get(collector, path, IngestKey), HttpStatusCode.Forbidden);
            await InputTests.AssertProblemAsync(await Get(collector, path, null), HttpStatusCode.Unauthorized);
        }

        JsonElement stats = await TestCollector.JsonOf(await Get(collector, "/stats", ReadKey));
        Assert.Equal(2, stats.GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Missing_malformed_and_unknown_keys_are_401_with_a_challenge_and_a_problem_body()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o => o.ApiKeys = [BothKey]);

        using HttpResponseMessage missing = await Upload(collector, null);
        using HttpResponseMessage unknown = await Upload(collector, BothKey + "x");
        using HttpResponseMessage prefix = await Upload(collector, BothKey[..^1]);
        using var basic = new HttpRequestMessage(HttpMethod.Post, "/logs") { Content = new StringContent(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), Encoding.UTF8, "application/json") };
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("user:pass"u8));
        using HttpResponseMessage wrongScheme = await collector.Client.SendAsync(basic, Cancel);

        await InputTests.AssertProblemAsync(missing, HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.ToString());
        foreach (HttpResponseMessage refused in new[] { unknown, prefix, wrongScheme })
        {
            await InputTests.AssertProblemAsync(refused, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer error=\"invalid_token\"", refused.Headers.WwwAuthenticate.ToString());
        }

        Assert.Empty(await collector.Running.Store.CountByIdAsync());
    }

    [Fact]
    public async Task Without_keys_made_up_tokens_and_forwarded_headers_do_not_escape_the_per_address_limit()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.RequestsPerSecondPerKey = 1;
            o.BurstPerKey = 3;
        });

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/logs") { Content = new StringContent(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "made-up-" + Guid.NewGuid());
            request.Headers.Add("X-Forwarded-For", $"203.0.113.{i}");
            using HttpResponseMessage response = await collector.Client.SendAsync(request, Cancel);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }
        }

        // A bucket of 3 refilled at 1 per second cannot pass 20 requests unless they take 17 s.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], statuses.Take(3));
        Assert.Contains(HttpStatusCode.TooManyRequests, statuses);
    }

    [Fact]
    public async Task Failed_authentications_are_limited_per_address_while_a_valid_key_keeps_working()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.ApiKeys = [BothKey];
            o.FailedAuthenticationsPerMinute = 3;
        });

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 6; i++)
        {
            using HttpResponseMessage guess = await Upload(collector, "guess-number-" + i + "-0123456789");
            statuses.Add(guess.StatusCode);
        }

        using HttpResponseMessage noKey = await Upload(collector, null);
        using HttpResponseMessage valid = await Upload(collector, BothKey);
        using HttpResponseMessage health = await collector.Client.GetAsync("/health/live", Cancel);

        // Refilled once a minute: the fourth guess within the minute is refused before its key is looked at.
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.TooManyRequests, noKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, valid.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Dashboard_sign_in_posts_are_limited_like_failed_authentications()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.ApiKeys = [BothKey];
            o.FailedAuthenticationsPerMinute = 2;
        });

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 4; i++)
        {
            using var form = new FormUrlEncodedContent([new("key", "guess-number-" + i + "-0123456789")]);
            using HttpResponseMessage response = await collector.Client.PostAsync("/login", form, Cancel);
            statuses.Add(response.StatusCode);
        }

        // Was the per-address bucket (200 a second by default): a sign-in form was a fast way to guess keys.
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task Requests_without_a_key_to_endpoints_that_need_none_are_not_counted_as_failed_authentications()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.ApiKeys = [BothKey];
            o.FailedAuthenticationsPerMinute = 1;
        });

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await collector.Client.GetAsync("/no-such-page", Cancel); // a dashboard's asset would be the same
            statuses.Add(response.StatusCode);
        }

        using HttpResponseMessage firstGuess = await Upload(collector, "guess-0123456789-abcdef");
        using HttpResponseMessage secondGuess = await Upload(collector, "guess-0123456789-ghijkl");

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.NotFound, status));
        Assert.Equal(HttpStatusCode.Unauthorized, firstGuess.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, secondGuess.StatusCode);
    }

    [Fact]
    public async Task Each_key_has_its_own_bucket_and_reads_count_too()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.IngestKeys = [IngestKey];
            o.ReadKeys = [ReadKey];
            o.RequestsPerSecondPerKey = 1;
            o.BurstPerKey = 2;
        });

        var reads = new List<HttpStatusCode>();
        for (int i = 0; i < 20; i++)
        {
            using HttpResponseMessage read = await Get(collector, "/stats", ReadKey);
            reads.Add(read.StatusCode);
        }

        using HttpResponseMessage upload = await Upload(collector, IngestKey);

        Assert.Contains(HttpStatusCode.TooManyRequests, reads);
        Assert.Equal(HttpStatusCode.OK, upload.StatusCode);
    }

    [Theory]
    [InlineData("192.0.2.7", "192.0.2.7")]
    [InlineData("::ffff:192.0.2.7", "192.0.2.7")]
    [InlineData("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::1", "2001:db8:1:2::/64")]
    public void Clients_are_partitioned_by_IPv4_address_or_IPv6_64_network(string address, string partition)
    {
        Assert.Equal(partition, Security.RateLimits.ClientAddress(IPAddress.Parse(address)));
    }

    private static Task<HttpResponseMessage> Upload(TestCollector collector, string? key) =>
        collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), apiKey: key);

    private static Task<HttpResponseMessage> Get(TestCollector collector, string path, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        return collector.Client.SendAsync(request, TestContext.Current.CancellationToken);
    }
}
