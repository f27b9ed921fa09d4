using System.Net;
using System.Text;

namespace Instrumentation.Collector.Tests;

/// <summary>
/// How a body arrives, over raw sockets where HttpClient cannot send the bytes: broken chunked framing, a stalled body,
/// a client gone mid-body, chunked payload against the size limit, gzip that decompresses to nothing. Each is a 4xx
/// with a problem body (or, for a client that is gone, no answer), nothing stored, no error logged.
/// </summary>
public class BodyTransportTests
{
    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("zz\r\n")] // not a hex size
    [InlineData("3\r\nabcXY")] // no CRLF after the chunk's data
    [InlineData("FFFFFFFFFFFFFFFFFFFFFFFF\r\n")] // a size that overflows
    [InlineData("-1\r\n")]
    [InlineData("3\r\nabc\r\n0\r\nTrailer without colon\r\n\r\n")]
    public async Task Malformed_chunked_framing_is_400_with_a_problem_body(string framing)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        await using RawHttp raw = await RawHttp.ConnectAsync(collector.Running.Address);

        await raw.SendAsync(RawHttp.Post("/logs/batch", "Transfer-Encoding: chunked\r\n", framing));
        RawResponse response = await raw.ReadToEndAsync();

        Assert.Equal(400, response.Status);
        Assert.Contains("application/problem+json", response.Head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await InputTests.ReadBackAsync(collector));
        collector.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("Transfer-Encoding: chunked\r\n", "3\r\n")] // gone mid-chunk
    [InlineData("Content-Length: 500\r\n", "{\"events\":[")] // gone before its length
    public async Task A_client_that_goes_away_mid_body_stores_nothing_and_causes_no_error(string headers, string body)
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        await using (RawHttp raw = await RawHttp.ConnectAsync(collector.Running.Address))
        {
            await raw.SendAsync(RawHttp.Post("/logs/batch", headers, body));
            raw.CloseSending(); // Kestrel takes the end of the stream as an aborted request: there is nobody to answer
            RawResponse response = await raw.ReadToEndAsync();
            Assert.True(response.Status is 0 or 400, "answered " + response.Status);
        }

        Assert.Equal(0, await InputTests.ReadBackAsync(collector));
        using HttpResponseMessage next = await collector.PostAsync("/logs", TestCollector.Event(Guid.CreateVersion7(), priority: "immediate"));
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        collector.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_chunked_body_counts_its_payload_not_its_framing_against_the_limit()
    {
        const int limit = 4096;
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.MaxRequestBytes = limit;
            o.MaxEventBytes = 1024;
        });
        string batch = TestCollector.Batch(TestCollector.Event(Guid.CreateVersion7()));
        string exactly = batch + new string(' ', limit - Encoding.UTF8.GetByteCount(batch)); // JSON allows trailing whitespace

        RawResponse fits = await PostInOneByteChunksAsync(collector, exactly);
        RawResponse over = await PostInOneByteChunksAsync(collector, exactly + " ");

        Assert.Equal(200, fits.Status); // 4,096 bytes of payload in about 24 KiB of framing
        Assert.Equal(413, over.Status);
        Assert.Contains("application/problem+json", over.Head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, await InputTests.ReadBackAsync(collector));
    }

    [Fact]
    public async Task A_body_slower_than_the_minimum_data_rate_is_408()
    {
        await using TestCollector collector = await TestCollector.StartAsync();
        await using RawHttp raw = await RawHttp.ConnectAsync(collector.Running.Address);

        // Three bytes, then nothing: after Kestrel's grace period (5 s) the rate is under its minimum (240 bytes/s).
        await raw.SendAsync(RawHttp.Post("/logs/batch", "Transfer-Encoding: chunked\r\n", "3\r\n{\"e"));
        RawResponse response = await raw.ReadToEndAsync();

        Assert.Equal(408, response.Status);
        Assert.Contains("application/problem+json", response.Head, StringComparison.OrdinalIgnoreCase);
        collector.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_gzip_body_of_empty_deflate_blocks_is_stopped_at_the_limit()
    {
        await using TestCollector collector = await TestCollector.StartAsync(o =>
        {
            o.MaxRequestBytes = 4096;
            o.MaxEventBytes = 1024;
        });

        // A gzip header, then stored deflate blocks of length 0 (not final): each is 5 bytes that decompress to nothing.
        var body = new MemoryStream();
        body.Write([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
        for (int i = 0; i < 2000; i++)
        {
            body.Write([0x00, 0x00, 0x00, 0xff, 0xff]);
        }

        using var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new("application/json");
        content.Headers.ContentEncoding.Add("gzip");
        using HttpResponseMessage response = await collector.Client.PostAsync("/logs/batch", content, Cancel);

        await InputTests.AssertProblemAsync(response, HttpStatusCode.RequestEntityTooLarge);
    }

    private static async Task<RawResponse> PostInOneByteChunksAsync(TestCollector collector, string body)
    {
        var framed = new StringBuilder();
        foreach (char c in body)
        {
            framed.Append("1\r\n").Append(c).Append("\r\n");
        }

        framed.Append("0\r\n\r\n");
        await using RawHttp raw = await RawHttp.ConnectAsync(collector.Running.Address);
        await raw.SendAsync(RawHttp.Post("/logs/batch", "Transfer-Encoding: chunked\r\n", framed.ToString()));
        return await raw.ReadToEndAsync();
    }
}
