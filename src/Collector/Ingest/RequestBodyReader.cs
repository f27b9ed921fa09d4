using System.IO.Compression;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// Reads a request body, gunzipping it when asked. The size limit counts the body's payload (what Content-Length counts;
/// for a chunked body the chunks' data, not their framing), both as sent and after decompression, so neither a gzip
/// bomb nor a stream of empty deflate blocks can grow without bound.
/// </summary>
internal static class RequestBodyReader
{
    public enum Status
    {
        Ok,
        TooLarge,
        BadEncoding,
        UnsupportedEncoding,
        Unreadable,
    }

    public static async Task<(Status Status, byte[] Body, string? Problem)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        // Kestrel's own limit (set to maxBytes) counts a chunked body's framing too, so a 1 MiB payload in small chunks
        // would be refused: for a chunked body, lift it and count the payload here instead. A body with a Content-Length
        // keeps Kestrel's limit, which then refuses it (413) before a byte is read.
        if (request.ContentLength is null
            && request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } kestrelLimit)
        {
            kestrelLimit.MaxRequestBodySize = null;
        }

        string encoding = request.Headers.ContentEncoding.ToString().Trim();
        var payload = new CountingStream(request.Body, maxBytes);
        Stream source;
        if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            source = payload;
        }
        else if (encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            source = new GZipStream(payload, CompressionMode.Decompress, leaveOpen: true);
        }
        else
        {
            return (Status.UnsupportedEncoding, [], null);
        }

        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16 * 1024];
        try
        {
            int read;
            while ((read = await source.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    return (Status.TooLarge, [], null);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (PayloadTooLargeException)
        {
            return (Status.TooLarge, [], null);
        }
        catch (InvalidDataException)
        {
            return (Status.BadEncoding, [], null); // not a gzip stream, or a corrupt one
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (Status.TooLarge, [], null);
        }
        catch (IOException exception) when (exception is not BadHttpRequestException)
        {
            // Kestrel reports some broken framing as a plain IOException (a chunk size that overflows), and a client that
            // went away mid-body as a reset: either way the body cannot be read. Other BadHttpRequestExceptions (400 bad
            // framing, 408 slower than the minimum data rate) go on to BadRequestExceptionHandler with their own status.
            return (Status.Unreadable, [], exception.Message);
        }
        finally
        {
            if (!ReferenceEquals(source, payload))
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }

        return (Status.Ok, buffer.ToArray(), null);
    }

    private sealed class PayloadTooLargeException : Exception;

    /// <summary>Reads through to the request body and stops at the limit.</summary>
    private sealed class CountingStream(Stream inner, long limit) : Stream
    {
        private long _count;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _count;
            set => throw new NotSupportedException();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            int read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
            _count += read;
            return _count > limit ? throw new PayloadTooLargeException() : read;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("The request body is read asynchronously.");

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
