using Instrumentation.Upload;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Instrumentation.Tests.Upload;

/// <summary>Only the collector's own answer counts as delivery: captive portals, foreign bodies, oversized answers.</summary>
public class PortalTests
{
    [Theory]
    [InlineData(false)] // the package's own handler: redirects are not followed
    [InlineData(true)] // a client configured to follow redirects: the answer to another request is not ours
    public async Task A_captive_portal_redirect_is_not_delivery_and_the_events_go_once_it_is_gone(bool clientFollowsRedirects)
    {
        using var client = clientFollowsRedirects ? new HttpClient() : new HttpClient(HttpUploadTransport.CreateHandler());
        await using var harness = await UploadHarness.StartAsync(client: client);
        using var requests = new MetricCollector<long>(harness.Manager.Meter, "instrumentation.requests");
        harness.Collector.OnGet = async context =>
        {
            context.Response.ContentType = "text/html";
            await context.Response.WriteAsync("<html><body>Welcome to campus Wi-Fi. Log in.</body></html>");
        };
        harness.Collector.Default = (context, _) =>
        {
            context.Response.Redirect("/login"); // 302, as portals answer every request
            return Task.FromResult(false);
        };
        var events = new List<CustomLogEvent> { UploadHarness.Immediate(index: 0), UploadHarness.Batch(index: 1), UploadHarness.Batch(index: 2) };
        events.ForEach(harness.Manager.AddLog);

        Task flushed = harness.Manager.FlushAsync(TestContext.Current.CancellationToken);
        await harness.WaitForRetried(3);

        Assert.Equal(0, harness.Manager.GetStatistics().EventsUploaded);
        Assert.Equal(3, harness.Manager.PendingCount);
        Assert.Empty(harness.Collector.Stored);
        Assert.Contains(requests.GetMeasurementSnapshot(), m => (string?)m.Tags["outcome"] == "unexpected_response");
        Assert.False(flushed.IsCompleted);

        harness.Collector.Default = null; // logged in: the collector answers again
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(events.Select(e => e.EventId).Order(), harness.Collector.Stored.Keys.Order());
        Assert.All(harness.Collector.Stored.Values, n => Assert.Equal(1, n));
        Assert.Equal(1, harness.Logs.GetSnapshot().Count(r => r.Message.Contains("unexpected_response", StringComparison.Ordinal)));
    }

    [Theory]
    [InlineData(404)] // a wrong path, or a reverse proxy not yet routing to the collector
    [InlineData(405)]
    [InlineData(407)] // a proxy asking for its own credentials
    public async Task An_answer_from_something_other_than_the_upload_endpoint_keeps_the_events(int status)
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.ThenStatus(status);
        CustomLogEvent e = UploadHarness.Batch(index: 1);
        harness.Manager.AddLog(e);

        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        // Before the fix these were dead-lettered as bad_request: a configuration mistake lost every event for good.
        Assert.Empty(harness.DeadLetters);
        Assert.Equal(1, harness.Collector.Stored[e.EventId]);
        Assert.Equal(2, harness.Collector.Received.Count);
    }

    [Theory]
    [InlineData("text/html", "<html><body>Sign in to continue</body></html>")]
    [InlineData("application/json", "{\"status\":\"ok\"}")]
    [InlineData("application/json", "[1,2,3]")]
    [InlineData("application/json", "{\"accepted\":\"all\"}")]
    [InlineData("text/plain", "OK")]
    public async Task A_2xx_with_a_foreign_body_is_retried_not_counted(string contentType, string body)
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.Then(async (context, _) =>
        {
            context.Response.ContentType = contentType;
            await context.Response.WriteAsync(body);
            return false;
        });
        CustomLogEvent e = UploadHarness.Batch(index: 1);
        harness.Manager.AddLog(e);

        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, harness.Collector.Received.Count); // the foreign answer, then the collector's
        Assert.Equal(1, harness.Collector.Stored[e.EventId]);
        Assert.Equal(1, harness.Manager.GetStatistics().EventsUploaded);
        Assert.Equal(1, harness.Manager.GetStatistics().EventsRetried);
    }

    [Fact]
    public async Task A_511_network_authentication_required_keeps_the_events_without_using_the_retry_budget()
    {
        await using var harness = await UploadHarness.StartAsync(o => o.MaxRetryAttempts = 1);
        for (int i = 0; i < 3; i++)
        {
            harness.Collector.ThenStatus(StatusCodes.Status511NetworkAuthenticationRequired);
        }

        CustomLogEvent e = UploadHarness.Batch(index: 1);
        harness.Manager.AddLog(e);
        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(4, harness.Collector.Received.Count);
        Assert.Equal(1, harness.Collector.Stored[e.EventId]);
        Assert.Empty(harness.DeadLetters);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)] // chunked: no Content-Length, the read stops at the cap
    public async Task An_oversized_answer_is_not_read_past_the_cap_and_not_counted(bool withContentLength)
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.Then(async (context, request) =>
        {
            string answer = $$"""{"accepted":{{request.Events.Count}},"rejected":[],"padding":"{{new string('x', HttpUploadTransport.MaxAnswerBytes)}}"}""";
            context.Response.ContentType = "application/json";
            if (withContentLength)
            {
                context.Response.ContentLength = answer.Length;
            }

            await context.Response.WriteAsync(answer);
            return false;
        });
        CustomLogEvent e = UploadHarness.Batch(index: 1);
        harness.Manager.AddLog(e);

        await harness.FlushAdvancingAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(2, harness.Collector.Received.Count);
        Assert.Equal(1, harness.Collector.Stored[e.EventId]);
    }

    [Fact]
    public async Task Rejected_indexes_out_of_range_or_repeated_are_ignored_and_logged_once()
    {
        await using var harness = await UploadHarness.StartAsync();
        harness.Collector.Then(async (context, request) =>
        {
            harness.Collector.Store(request.EventIds.Skip(1));
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync("""{"accepted":1,"rejected":[{"index":0,"reason":"bad field","retryable":false},{"index":0,"reason":"again","retryable":true},{"index":7,"reason":"not ours","retryable":false},{"index":-1,"reason":"negative","retryable":true}]}""");
            return false;
        });
        var events = new[] { UploadHarness.Batch(index: 0), UploadHarness.Batch(index: 1) };
        Array.ForEach(events, harness.Manager.AddLog);

        await harness.Manager.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Single(harness.Collector.Received); // nothing was sent again for the repeated, retryable index
        DeadLetter dead = Assert.Single(harness.DeadLetters);
        Assert.Equal((events[0].EventId, "rejected", "bad field"), (dead.EventId, dead.Reason, dead.Detail));
        Assert.Equal(1, harness.Manager.GetStatistics().EventsUploaded);
        Assert.Single(harness.Logs.GetSnapshot(), r => r.Message.Contains("out of range or repeated", StringComparison.Ordinal));
    }

    [Fact]
    public void The_documented_answer_and_an_empty_body_are_the_only_2xx_bodies_accepted()
    {
        Assert.Empty(HttpUploadTransport.ParseAnswer(""u8)!);
        Assert.Empty(HttpUploadTransport.ParseAnswer(" \r\n"u8)!);
        Assert.Empty(HttpUploadTransport.ParseAnswer("""{"accepted":3,"rejected":[]}"""u8)!);
        Assert.Empty(HttpUploadTransport.ParseAnswer("""{"accepted":3}"""u8)!);
        Assert.Equal([new RejectedItem(1, "x", true)], HttpUploadTransport.ParseAnswer("""{"accepted":1,"rejected":[{"index":1,"id":"a","reason":"x","retryable":true}]}"""u8)!);
        Assert.Null(HttpUploadTransport.ParseAnswer("<html></html>"u8));
        Assert.Null(HttpUploadTransport.ParseAnswer("""{"rejected":[]}"""u8));
        Assert.Null(HttpUploadTransport.ParseAnswer("""{"accepted":1,"rejected":{}}"""u8));
        Assert.Null(HttpUploadTransport.ParseAnswer("""{"accepted":1,"rejected":[{"reason":"no index"}]}"""u8));
        Assert.Null(HttpUploadTransport.ParseAnswer("""{"accepted":-1}"""u8));
    }
}
