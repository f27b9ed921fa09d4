using System.IO.Compression;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Ingest;

/// <summary>Reads a request body, gunzipping it when asked, and stops at the size limit (counted after decompression).</summary>
internal static class RequestBodyReader
{
    public enum Status
    {
        Ok,
        TooLarge,
        BadEncoding,
        UnsupportedEncoding,
    }

    public static async Task<(Status Status, byte[] Body)> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        string encoding = request.Headers.ContentEncoding.ToString().Trim();
        Stream source;
        if (encoding.Length == 0 || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            source = request.Body;
        }
        else if (encoding.Equals("gzip", StringComparison.OrdinalIgnoreCase))
        {
            source = new GZipStream(request.Body, CompressionMode.Decompress, leaveOpen: true);
        }
        else
        {
            return (Status.UnsupportedEncoding, []);
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
                    return (Status.TooLarge, []);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (InvalidDataException)
        {
            return (Status.BadEncoding, []); // not a gzip stream, or a corrupt one
        }
        catch (BadHttpRequestException exception) when (exception.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (Status.TooLarge, []); // Kestrel's own limit on the raw body
        }
        // Any other BadHttpRequestException (malformed chunked framing 400, slower than the minimum data rate 408, ended
        // before its length 400) goes on to BadRequestExceptionHandler, which answers with its status.
        finally
        {
            if (!ReferenceEquals(source, request.Body))
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }

        return (Status.Ok, buffer.ToArray());
    }
}
