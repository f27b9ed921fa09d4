using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Instrumentation.Upload;

/// <summary>
/// The HTTP stage: one POST per request, gzip above the threshold, the API key as a bearer token, and the answer
/// turned into an <see cref="UploadResponse"/> (status, <c>Retry-After</c>, per-item rejects).
/// </summary>
/// <remarks>
/// Only the collector's own answer counts as delivery. Redirects are never followed (the package's clients turn
/// automatic redirects off, and an answer to a request other than the one sent, or any 3xx, is
/// <see cref="UploadOutcome.UnexpectedResponse"/>): a captive portal answers a POST with 302 to a login page, and
/// following it would turn the POST into a GET whose 200 looks like success. A 2xx counts only when its body is empty
/// or the documented <c>{"accepted":N,"rejected":[…]}</c>. Answer bodies are read up to <see cref="MaxAnswerBytes"/>.
/// </remarks>
internal sealed class HttpUploadTransport(
    Func<HttpClient> httpClient,
    LogManagerOptions options,
    Uri endpoint,
    TimeProvider timeProvider,
    UploadStatistics statistics) : IUploadTransport
{
    /// <summary>The most of an answer's body that is read: a collector's answer (at most 1,000 rejected items) is far smaller.</summary>
    public const int MaxAnswerBytes = 256 * 1024;

    /// <summary>How much of an error body is kept for the log.</summary>
    private const int MaxDetailChars = 512;

    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json") { CharSet = "utf-8" };

    private readonly Uri _singleUri = Combine(endpoint, "logs");
    private readonly Uri _batchUri = Combine(endpoint, "logs/batch");

    /// <summary>The handler the package's own clients use: no automatic redirects, connections recycled for DNS changes.</summary>
    public static SocketsHttpHandler CreateHandler() => new()
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    };

    public async Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        Uri target = kind == UploadKind.Single ? _singleUri : _batchUri;
        using var request = new HttpRequestMessage(HttpMethod.Post, target);
        bool compress = options.EnableCompression && json.Length >= options.CompressionThreshold;
        ReadOnlyMemory<byte> body = compress ? Gzip(json) : json; // uncompressed: sent straight from the caller's buffer
        request.Content = new ReadOnlyMemoryContent(body);
        request.Content.Headers.ContentType = JsonContentType;
        if (compress)
        {
            request.Content.Headers.ContentEncoding.Add("gzip");
        }

        if (!string.IsNullOrEmpty(options.ApiKey))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
        }

        statistics.AddRequest(kind, json.Length, body.Length);
        using var timeout = new CancellationTokenSource(options.RequestTimeout, timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            using HttpResponseMessage response = await httpClient().SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
            if (response.RequestMessage?.RequestUri is { } answered && answered != target)
            {
                // A client configured to follow redirects did: this is not the collector's answer to our POST.
                return UploadResponse.Unexpected((int)response.StatusCode, $"the request was redirected to {answered.GetLeftPart(UriPartial.Path)}");
            }

            return await ClassifyAsync(response, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return UploadResponse.Network($"no answer within {options.RequestTimeout}");
        }
        catch (HttpRequestException exception)
        {
            return UploadResponse.Network(exception.Message);
        }
        catch (IOException exception)
        {
            return UploadResponse.Network(exception.Message);
        }
    }

    private async Task<UploadResponse> ClassifyAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        int status = (int)response.StatusCode;
        string? detail = response.ReasonPhrase;
        switch (response.StatusCode)
        {
            case HttpStatusCode.TooManyRequests:
            case HttpStatusCode.ServiceUnavailable:
                return new UploadResponse(UploadOutcome.Throttled, status, RetryAfter(response), [], detail);
            case HttpStatusCode.RequestTimeout:
            case HttpStatusCode.InternalServerError:
            case HttpStatusCode.BadGateway:
            case HttpStatusCode.GatewayTimeout:
                return new UploadResponse(UploadOutcome.ServerError, status, null, [], detail);
            case HttpStatusCode.RequestEntityTooLarge:
                return new UploadResponse(UploadOutcome.TooLarge, status, null, [], detail);
            case HttpStatusCode.Unauthorized:
            case HttpStatusCode.Forbidden:
                return new UploadResponse(UploadOutcome.Unauthorized, status, null, [], detail);
        }

        if (status == 511)
        {
            // 511 Network Authentication Required: a captive portal's own status (RFC 6585), not the collector's.
            return UploadResponse.Unexpected(status, "HTTP 511 Network Authentication Required (a captive portal)");
        }

        if (status >= 300 && status < 400)
        {
            string location = response.Headers.Location is { } to ? $" to {to}" : string.Empty;
            return UploadResponse.Unexpected(status, $"HTTP {status} redirect{location} (uploads do not follow redirects)");
        }

        if (status is 404 or 405 or 407)
        {
            // Not an answer about the events: the address does not lead to the collector's upload endpoint (a wrong
            // path, a proxy asking for its own credentials, a portal). Retried until it does, never dead-lettered.
            return UploadResponse.Unexpected(status, $"HTTP {status} {detail} (the endpoint is not the collector's upload endpoint, or a proxy is in the way)");
        }

        if (status >= 500 || status < 200)
        {
            return new UploadResponse(UploadOutcome.ServerError, status, null, [], detail);
        }

        byte[]? body = await ReadCappedAsync(response.Content, cancellationToken).ConfigureAwait(false);
        if (body is null)
        {
            return UploadResponse.Unexpected(status, $"an answer larger than {MaxAnswerBytes} bytes");
        }

        if (status < 300)
        {
            return ParseAnswer(body) is { } rejected
                ? new UploadResponse(UploadOutcome.Accepted, status, null, rejected, detail)
                : UploadResponse.Unexpected(status, "a 2xx answer whose body is not the collector's: " + Excerpt(body));
        }

        return new UploadResponse(UploadOutcome.BadRequest, status, null, [], body.Length == 0 ? detail : Excerpt(body));
    }

    /// <summary>Reads the body, or returns null when it is longer than <see cref="MaxAnswerBytes"/> (the rest is not read).</summary>
    private static async Task<byte[]?> ReadCappedAsync(HttpContent content, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > MaxAnswerBytes)
        {
            return null;
        }

        using Stream stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        byte[] buffer = new byte[Math.Min(MaxAnswerBytes + 1, (int)(content.Headers.ContentLength ?? 4096) + 1)];
        int length = 0;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (buffer.Length > MaxAnswerBytes)
                {
                    return null;
                }

                Array.Resize(ref buffer, Math.Min(MaxAnswerBytes + 1, buffer.Length * 2));
            }

            int read = await stream.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return buffer[..length];
            }

            length += read;
        }
    }

    /// <summary>
    /// Reads the documented answer <c>{"accepted":N,"rejected":[{"index":i,…,"reason":"…","retryable":bool}]}</c>
    /// (<c>rejected</c> may be missing); an empty body means all accepted. Returns null for any other body.
    /// </summary>
    internal static IReadOnlyList<RejectedItem>? ParseAnswer(ReadOnlySpan<byte> body)
    {
        if (body.Trim(" \t\r\n"u8).IsEmpty)
        {
            return [];
        }

        try
        {
            var reader = new Utf8JsonReader(body);
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("accepted", out JsonElement accepted)
                || !accepted.TryGetInt32(out int acceptedCount)
                || acceptedCount < 0)
            {
                return null;
            }

            if (!root.TryGetProperty("rejected", out JsonElement rejected) || rejected.ValueKind == JsonValueKind.Null)
            {
                return [];
            }

            if (rejected.ValueKind != JsonValueKind.Array)
            {
                return null;
            }

            var items = new List<RejectedItem>();
            foreach (JsonElement item in rejected.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("index", out JsonElement index) || !index.TryGetInt32(out int position))
                {
                    return null;
                }

                string reason = item.TryGetProperty("reason", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "rejected";
                bool retryable = item.TryGetProperty("retryable", out JsonElement retry) && retry.ValueKind == JsonValueKind.True;
                items.Add(new RejectedItem(position, reason, retryable));
            }

            return items;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Excerpt(byte[] body)
    {
        string text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, MaxDetailChars * 4));
        return text.Length > MaxDetailChars ? text[..MaxDetailChars] + "…" : text;
    }

    private TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        RetryConditionHeaderValue? header = response.Headers.RetryAfter;
        if (header?.Delta is TimeSpan delta)
        {
            return delta;
        }

        if (header?.Date is DateTimeOffset date)
        {
            return date - timeProvider.GetUtcNow();
        }

        return null;
    }

    private static byte[] Gzip(ReadOnlyMemory<byte> json)
    {
        using var output = new MemoryStream(json.Length / 4 + 64);
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(json.Span);
        }

        return output.ToArray();
    }

    private static Uri Combine(Uri endpoint, string path)
    {
        string text = endpoint.ToString();
        return new Uri(text.EndsWith('/') ? text + path : text + "/" + path, UriKind.Absolute);
    }
}
