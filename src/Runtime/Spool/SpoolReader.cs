using System.Buffers.Binary;
using System.Text.Json;

namespace Instrumentation.Spool;

/// <summary>Reads single records back from segment files (one open file at a time). Owned by <see cref="EventSpool"/>.</summary>
internal sealed class SpoolReader : IDisposable
{
    private FileStream? _file;
    private SpoolSegment? _segment;
    private byte[] _buffer = new byte[8192];

    /// <summary>Reads the record at <paramref name="offset"/>; its JSON is valid until the next read.</summary>
    /// <returns>False when the record is torn or corrupt.</returns>
    public bool TryRead(SpoolSegment segment, long offset, out SpoolEntry entry, out int size)
    {
        entry = default;
        size = 0;
        if (_file is null || _segment != segment)
        {
            _file?.Dispose();
            _file = new FileStream(segment.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _segment = segment;
        }

        Span<byte> header = stackalloc byte[SpoolRecord.HeaderBytes];
        _file.Position = offset;
        if (_file.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length)
        {
            return false;
        }

        int length = (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(header), SpoolRecord.MaxPayloadBytes);
        if (_buffer.Length < SpoolRecord.HeaderBytes + length)
        {
            _buffer = new byte[Math.Max(SpoolRecord.HeaderBytes + length, _buffer.Length * 2)];
        }

        header.CopyTo(_buffer);
        _file.ReadAtLeast(_buffer.AsSpan(SpoolRecord.HeaderBytes, length), length, throwOnEndOfStream: false);
        size = SpoolRecord.TryRead(_buffer.AsSpan(0, SpoolRecord.HeaderBytes + length), out Priority priority, out Guid id, out long recordedAt, out long ordinal, out ReadOnlySpan<byte> json);
        if (size <= 0)
        {
            return false;
        }

        entry = new SpoolEntry(ordinal, id, TypeOf(json), priority, DateTimeOffset.FromUnixTimeMilliseconds(recordedAt), json);
        return true;
    }

    /// <summary>The segment is being deleted: close it if it is the open one.</summary>
    public void Forget(SpoolSegment segment)
    {
        if (_segment == segment)
        {
            _file!.Dispose();
            _file = null;
            _segment = null;
        }
    }

    public void Dispose() => _file?.Dispose();

    private static string TypeOf(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        try
        {
            while (reader.Read())
            {
                if (reader.CurrentDepth == 1 && reader.TokenType == JsonTokenType.PropertyName && reader.ValueTextEquals("type"u8) && reader.Read())
                {
                    return reader.GetString() ?? string.Empty;
                }
            }
        }
        catch (JsonException)
        {
            // A record whose JSON cannot be read still uploads; the collector judges it.
        }

        return string.Empty;
    }
}
