using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Instrumentation.Upload;

/// <summary>
/// The HTTP stage: one POST per request, gzip above the threshold, the API key as a bearer token, and the answer
/// turned into an <see cref="UploadResponse"/> (status, <c>Retry-After</c>, per-item rejects).
/// </summary>
internal sealed class HttpUploadTransport(
    Func<HttpClient> httpClient,
    LogManagerOptions options,
    Uri endpoint,
    TimeProvider timeProvider,
    UploadStatistics statistics) : IUploadTransport
{
    private static readonly MediaTypeHeaderValue JsonContentType = new("application/json") { CharSet = "utf-8" };

    private readonly Uri _singleUri = Combine(endpoint, "logs");
    private readonly Uri _batchUri = Combine(endpoint, "logs/batch");

    public async Task<UploadResponse> SendAsync(UploadKind kind, ReadOnlyMemory<byte> json, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, kind == UploadKind.Single ? _singleUri : _batchUri);
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
            using HttpResponseMessage response = await httpClient().SendAsync(request, HttpCompletionOption.ResponseContentRead, linked.Token).ConfigureAwait(false);
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

        if (status >= 200 && status < 300)
        {
            byte[] body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            return new UploadResponse(UploadOutcome.Accepted, status, null, ParseRejected(body), detail);
        }

        if (status >= 500)
        {
            return new UploadResponse(UploadOutcome.ServerError, status, null, [], detail);
        }

        string reason = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        return new UploadResponse(UploadOutcome.BadRequest, status, null, [], string.IsNullOrWhiteSpace(reason) ? detail : reason);
    }

    /// <summary>Reads <c>rejected</c> from <c>{"accepted":N,"rejected":[{"index":i,…,"reason":"…","retryable":bool}]}</c>; an empty or foreign body means all accepted.</summary>
    internal static IReadOnlyList<RejectedItem> ParseRejected(ReadOnlySpan<byte> body)
    {
        if (body.IsEmpty)
        {
            return [];
        }

        try
        {
            var reader = new Utf8JsonReader(body);
            using JsonDocument document = JsonDocument.ParseValue(ref reader);
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("rejected", out JsonElement rejected)
                || rejected.ValueKind != JsonValueKind.Array)
            {
                return [];
            }

            var items = new List<RejectedItem>();
            foreach (JsonElement item in rejected.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("index", out JsonElement index) && index.TryGetInt32(out int position))
                {
                    string reason = item.TryGetProperty("reason", out JsonElement r) && r.ValueKind == JsonValueKind.String ? r.GetString()! : "rejected";
                    bool retryable = item.TryGetProperty("retryable", out JsonElement retry) && retry.ValueKind == JsonValueKind.True;
                    items.Add(new RejectedItem(position, reason, retryable));
                }
            }

            return items;
        }
        catch (JsonException)
        {
            return [];
        }
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
