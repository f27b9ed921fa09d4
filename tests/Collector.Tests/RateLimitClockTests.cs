using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Time.Testing;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// The rate limiter's buckets run on the DI clock: with a <see cref="FakeTimeProvider"/> that only moves when told,
/// what is refused and when it refills are exact, however slow the machine is.
/// </summary>
public sealed class RateLimitClockTests
{
    private const string KeyA = "key-a-0123456789", KeyB = "key-b-0123456789";

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_key_over_its_burst_gets_429_with_Retry_After_until_the_clock_refills_its_bucket()
    {
        var time = new FakeTimeProvider();
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0", $"--Collector:ApiKeys:0={KeyA}", $"--Collector:ApiKeys:1={KeyB}", "--Collector:RequestsPerSecondPerKey=1", "--Collector:BurstPerKey=2"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));

        var statuses = new List<HttpStatusCode>();
        TimeSpan? retryAfter = null;
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage response = await UploadAsync(service, KeyA);
            statuses.Add(response.StatusCode);
            retryAfter ??= response.Headers.RetryAfter?.Delta;
        }

        using HttpResponseMessage otherKey = await UploadAsync(service, KeyB);
        time.Advance(TimeSpan.FromMilliseconds(999));
        using HttpResponseMessage tooEarly = await UploadAsync(service, KeyA);
        time.Advance(TimeSpan.FromMilliseconds(1));
        using HttpResponseMessage refilled = await UploadAsync(service, KeyA);
        using HttpResponseMessage emptyAgain = await UploadAsync(service, KeyA);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(TimeSpan.FromSeconds(1), retryAfter);
        Assert.Equal(HttpStatusCode.OK, otherKey.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, tooEarly.StatusCode);
        Assert.Equal(HttpStatusCode.OK, refilled.StatusCode); // one token per second
        Assert.Equal(HttpStatusCode.TooManyRequests, emptyAgain.StatusCode);
    }

    [Fact]
    public async Task Failed_authentications_refill_once_a_minute_on_the_clock()
    {
        var time = new FakeTimeProvider();
        await using ServiceUnderTest service = await ServiceUnderTest.StartAsync(
            ServiceUnderTest.NewFolder(),
            ["--urls", "http://127.0.0.1:0", $"--Collector:ApiKeys:0={KeyA}", "--Collector:FailedAuthenticationsPerMinute=2"],
            builder => builder.Services.Replace(ServiceDescriptor.Singleton<TimeProvider>(time)));

        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < 3; i++)
        {
            using HttpResponseMessage guess = await UploadAsync(service, "guess-number-" + i + "-0123456789");
            statuses.Add(guess.StatusCode);
        }

        time.Advance(TimeSpan.FromSeconds(59));
        using (HttpResponseMessage guess = await UploadAsync(service, "guess-after-59-s-0123456789"))
        {
            statuses.Add(guess.StatusCode);
        }

        time.Advance(TimeSpan.FromSeconds(1));
        using (HttpResponseMessage guess = await UploadAsync(service, "guess-after-60-s-0123456789"))
        {
            statuses.Add(guess.StatusCode);
        }

        Assert.Equal(
            [HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests, HttpStatusCode.Unauthorized],
            statuses);
    }

    private static async Task<HttpResponseMessage> UploadAsync(ServiceUnderTest service, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/logs")
        {
            Content = new StringContent(TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await service.Client.SendAsync(request, Cancel);
    }
}
