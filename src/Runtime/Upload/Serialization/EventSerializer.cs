using System.Buffers;
using System.Text.Json;

namespace Instrumentation.Upload;

/// <summary>
/// Turns payloads into their JSON (docs/protocol.md) in one reused buffer, with the static context of the options.
/// Used only by the pipeline's loop: the caller's thread never pays for serialization.
/// </summary>
internal sealed class EventSerializer(LogManagerOptions options) : IDisposable
{
    private readonly KeyValuePair<string, string>[] _staticContext = [.. options.Context];
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private Utf8JsonWriter? _writer;

    /// <summary>Writes the event; the JSON is valid until the next call. False when the payload's writer throws.</summary>
    public bool TryWrite(LogEventPayload payload, out ReadOnlySpan<byte> json)
    {
        _writer ??= new Utf8JsonWriter(_buffer);
        try
        {
            _buffer.Clear();
            _writer.Reset();
            payload.WriteTo(_writer, _staticContext);
            _writer.Flush();
            json = _buffer.WrittenSpan;
            return true;
        }
        catch (Exception)
        {
            // A hand-built payload whose writer throws cannot be sent.
            json = default;
            return false;
        }
    }

    public void Dispose() => _writer?.Dispose();
}
