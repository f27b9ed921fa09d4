using System.Buffers.Binary;

namespace Instrumentation.Spool;

/// <summary>
/// The record format of a spool segment: <c>length:u32 | crc32:u32 | payload</c>, where the CRC covers the payload and
/// the payload is <c>priority:u8 | id:16 bytes | recorded-at unix ms:i64 | ordinal:i64 | event JSON</c> (little endian).
/// The ordinal is the event's position in the writing process (ordinals restart in the process that replays it).
/// A length that runs past the end of the file is a torn write; a CRC mismatch (zeros, garbage) is corruption.
/// </summary>
internal static class SpoolRecord
{
    public const int HeaderBytes = 8;
    public const int FixedPayloadBytes = 1 + 16 + 8 + 8;

    /// <summary>No record is larger than this; a bigger length field is corruption, not a record.</summary>
    public const int MaxPayloadBytes = 64 * 1024 * 1024;

    public static int SizeOf(int jsonBytes) => HeaderBytes + FixedPayloadBytes + jsonBytes;

    public static void Write(Span<byte> destination, Priority priority, Guid id, long recordedAtUnixMs, long ordinal, ReadOnlySpan<byte> json)
    {
        Span<byte> payload = destination.Slice(HeaderBytes, FixedPayloadBytes + json.Length);
        payload[0] = (byte)priority;
        id.TryWriteBytes(payload.Slice(1, 16));
        BinaryPrimitives.WriteInt64LittleEndian(payload.Slice(17, 8), recordedAtUnixMs);
        BinaryPrimitives.WriteInt64LittleEndian(payload.Slice(25, 8), ordinal);
        json.CopyTo(payload[FixedPayloadBytes..]);
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32.Compute(payload));
    }

    /// <summary>Reads the record at the start of <paramref name="source"/>.</summary>
    /// <returns>The record's total size, 0 when <paramref name="source"/> holds only part of one (a torn tail), or -1 when it is corrupt.</returns>
    public static int TryRead(ReadOnlySpan<byte> source, out Priority priority, out Guid id, out long recordedAtUnixMs, out long ordinal, out ReadOnlySpan<byte> json)
    {
        priority = default;
        id = default;
        recordedAtUnixMs = 0;
        ordinal = 0;
        json = default;
        if (source.Length < HeaderBytes)
        {
            return 0;
        }

        uint length = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (length < FixedPayloadBytes || length > MaxPayloadBytes)
        {
            return -1;
        }

        if (source.Length - HeaderBytes < length)
        {
            return 0;
        }

        ReadOnlySpan<byte> payload = source.Slice(HeaderBytes, (int)length);
        if (Crc32.Compute(payload) != BinaryPrimitives.ReadUInt32LittleEndian(source[4..]) || payload[0] > (byte)Priority.Batch)
        {
            return -1;
        }

        priority = (Priority)payload[0];
        id = new Guid(payload.Slice(1, 16));
        recordedAtUnixMs = BinaryPrimitives.ReadInt64LittleEndian(payload.Slice(17, 8));
        ordinal = BinaryPrimitives.ReadInt64LittleEndian(payload.Slice(25, 8));
        json = payload[FixedPayloadBytes..];
        return HeaderBytes + (int)length;
    }
}

/// <summary>CRC-32 (IEEE 802.3, the polynomial of zip and PNG), table driven.</summary>
internal static class Crc32
{
    private static readonly uint[] Table = CreateTable();

    public static uint Compute(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] CreateTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint value = i;
            for (int bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? 0xEDB88320u ^ (value >> 1) : value >> 1;
            }

            table[i] = value;
        }

        return table;
    }
}
