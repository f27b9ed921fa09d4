using System.Buffers;
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

    /// <summary>The body read, in a buffer rented from <see cref="ArrayPool{T}.Shared"/>: dispose it when nothing refers to it any more.</summary>
    public sealed class Body : IDisposable
    {
        private byte[]? _array;

        internal Body(byte[]? array, int length)
        {
            _array = array;
            Length = length;
        }

        public static Body Empty { get; } = new(null, 0);

        public int Length { get; }

        public ReadOnlyMemory<byte> Memory => _array is null ? ReadOnlyMemory<byte>.Empty : _array.AsMemory(0, Length);

        public void Dispose()
        {
            byte[]? array = Interlocked.Exchange(ref _array, null);
            if (array is not null)
            {
                ArrayPool<byte>.Shared.Return(array);
            }
        }
    }

    public static async Task<(Status Status, Body Body, string? Problem)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
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
            return (Status.UnsupportedEncoding, Body.Empty, null);
        }

        // A pooled buffer, sized from Content-Length when the body is not compressed: a batch of 1,000 events is a few
        // hundred KiB, and a fresh array of that size per request (then a copy of it) is large-object-heap garbage.
        long? declared = ReferenceEquals(source, payload) ? request.ContentLength : null;
        byte[] array = ArrayPool<byte>.Shared.Rent(declared is long size && size < maxBytes ? (int)size + 1 : 16 * 1024);
        int length = 0;
        bool handedOver = false;
        try
        {
            while (true)
            {
                if (length == array.Length)
                {
                    byte[] larger = ArrayPool<byte>.Shared.Rent((int)Math.Min((long)array.Length * 2, (long)maxBytes + 1));
                    array.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(array);
                    array = larger;
                }

                int read = await source.ReadAsync(array.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length > maxBytes)
                {
                    return (Status.TooLarge, Body.Empty, null);
                }
            }

            handedOver = true;
            return (Status.Ok, new Body(array, length), null);
        }
        catch (PayloadTooLargeException)
        {
            return (Status.TooLarge, Body.Empty, null);
        }
        catch (InvalidDataException)
        {
            return (Status.BadEncoding, Body.Empty, null); // not a gzip stream, or a corrupt one
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (Status.TooLarge, Body.Empty, null);
        }
        catch (IOException exception) when (exception is not BadHttpRequestException)
        {
            // Kestrel reports some broken framing as a plain IOException (a chunk size that overflows), and a client that
            // went away mid-body as a reset: either way the body cannot be read. Other BadHttpRequestExceptions (400 bad
            // framing, 408 slower than the minimum data rate) go on to BadRequestExceptionHandler with their own status.
            return (Status.Unreadable, Body.Empty, exception.Message);
        }
        finally
        {
            if (!handedOver)
            {
                ArrayPool<byte>.Shared.Return(array);
            }

            if (!ReferenceEquals(source, payload))
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
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
