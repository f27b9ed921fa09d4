using System.Text;
using System.Text.Json;

namespace Instrumentation.Collector.Ingest;

/// <summary>
/// The member names of the objects a <see cref="Utf8JsonReader"/> is inside, to find a name given twice in one object
/// without a string and a set per object: names are kept as unescaped UTF-8 in one reused buffer and compared byte by
/// byte (equal bytes are equal names, since the scanner has refused lone surrogate escapes before it adds a name). An
/// object with many members switches to a hash set, so that no input makes the check quadratic.
/// </summary>
internal sealed class MemberNames
{
    private const int LinearLimit = 16;

    [ThreadStatic]
    private static MemberNames? t_cached;

    private byte[] _bytes = new byte[1024];
    private int _used;
    private (int Offset, int Length)[] _names = new (int, int)[64];
    private int _nameCount;
    private Frame[] _frames = new Frame[16];
    private int _depth;

    private struct Frame
    {
        public int FirstName;
        public int FirstByte;
        public int Count;
        public HashSet<string>? Set;
    }

    /// <summary>This thread's instance (or a new one when it is in use).</summary>
    /// <returns>An empty instance; give it back with <see cref="Return"/>.</returns>
    public static MemberNames Rent()
    {
        MemberNames? names = t_cached;
        t_cached = null;
        return names ?? new MemberNames();
    }

    /// <summary>Gives an instance back for the next scan on this thread.</summary>
    /// <param name="names">The instance from <see cref="Rent"/>.</param>
    public static void Return(MemberNames names)
    {
        names._used = 0;
        names._nameCount = 0;
        Array.Clear(names._frames, 0, names._depth);
        names._depth = 0;
        if (names._bytes.Length <= 64 * 1024)
        {
            t_cached = names;
        }
    }

    /// <summary>The reader is at the start of an object.</summary>
    public void Open()
    {
        if (_depth == _frames.Length)
        {
            Array.Resize(ref _frames, _frames.Length * 2);
        }

        _frames[_depth++] = new Frame { FirstName = _nameCount, FirstByte = _used };
    }

    /// <summary>The reader is at the end of an object.</summary>
    public void Close()
    {
        Frame frame = _frames[--_depth];
        _frames[_depth] = default;
        _nameCount = frame.FirstName;
        _used = frame.FirstByte;
    }

    /// <summary>Adds the property name the reader is at to the innermost object.</summary>
    /// <param name="reader">A reader at a <see cref="JsonTokenType.PropertyName"/>.</param>
    /// <returns>False when the object has that name already.</returns>
    public bool Add(ref Utf8JsonReader reader)
    {
        ref Frame frame = ref _frames[_depth - 1];
        int length;
        ReadOnlySpan<byte> name;
        if (reader.ValueIsEscaped)
        {
            Reserve(reader.ValueSpan.Length);
            length = reader.CopyString(_bytes.AsSpan(_used));
            name = _bytes.AsSpan(_used, length);
        }
        else
        {
            name = reader.ValueSpan;
            length = name.Length;
        }

        if (frame.Set is not null || frame.Count >= LinearLimit)
        {
            if (frame.Set is null)
            {
                frame.Set = new HashSet<string>(StringComparer.Ordinal);
                for (int i = frame.FirstName; i < _nameCount; i++)
                {
                    frame.Set.Add(Encoding.UTF8.GetString(_bytes, _names[i].Offset, _names[i].Length));
                }
            }

            frame.Count++;
            return frame.Set.Add(Encoding.UTF8.GetString(name));
        }

        for (int i = frame.FirstName; i < _nameCount; i++)
        {
            if (name.SequenceEqual(_bytes.AsSpan(_names[i].Offset, _names[i].Length)))
            {
                return false;
            }
        }

        if (!reader.ValueIsEscaped)
        {
            Reserve(length);
            name.CopyTo(_bytes.AsSpan(_used));
        }

        if (_nameCount == _names.Length)
        {
            Array.Resize(ref _names, _names.Length * 2);
        }

        _names[_nameCount++] = (_used, length);
        _used += length;
        frame.Count++;
        return true;
    }

    private void Reserve(int length)
    {
        if (_bytes.Length - _used < length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + length));
        }
    }
}
