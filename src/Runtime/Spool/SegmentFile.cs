using Microsoft.Win32.SafeHandles;

namespace Instrumentation.Spool;

/// <summary>
/// One segment file opened for writing: positioned writes, cutting back, forcing to disk. The spool writes only
/// through this (tests put a file that fails after some bytes in its place, as a full disk does).
/// </summary>
internal interface ISegmentFile : IDisposable
{
    /// <summary>Writes <paramref name="bytes"/> at <paramref name="offset"/>.</summary>
    /// <exception cref="IOException">The write failed; a part of it may be on disk (a torn write).</exception>
    void Write(ReadOnlySpan<byte> bytes, long offset);

    /// <summary>Cuts the file back to <paramref name="length"/> bytes.</summary>
    /// <exception cref="IOException">The file could not be cut.</exception>
    void Truncate(long length);

    /// <summary>Forces what was written to disk (fsync).</summary>
    /// <exception cref="IOException">The disk did not confirm it.</exception>
    void Sync();
}

/// <summary>A segment file on disk, written with positioned writes (no buffer of its own: the spool buffers records).</summary>
internal sealed class SegmentFile : ISegmentFile
{
    private readonly SafeFileHandle _handle;

    private SegmentFile(SafeFileHandle handle) => _handle = handle;

    /// <summary>Creates a new, empty segment file (never opens an existing one).</summary>
    /// <exception cref="IOException">It exists, or the file system refuses it.</exception>
    public static ISegmentFile Create(string path)
    {
        try
        {
            return new SegmentFile(File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read | FileShare.Delete));
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new IOException(exception.Message, exception);
        }
    }

    public void Write(ReadOnlySpan<byte> bytes, long offset)
    {
        try
        {
            RandomAccess.Write(_handle, bytes, offset);
        }
        catch (ArgumentOutOfRangeException exception)
        {
            // EFBIG (a file size limit, RLIMIT_FSIZE, or the file system's largest file) surfaces as this, not as an
            // IOException; what fitted below the limit was written (a torn write), like any other failed write.
            throw new SegmentTooLargeException(exception);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new IOException(exception.Message, exception); // EPERM/EACCES on a write: a failed write like any other
        }
    }

    public void Truncate(long length)
    {
        try
        {
            RandomAccess.SetLength(_handle, length);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new IOException(exception.Message, exception);
        }
    }

    public void Sync()
    {
        try
        {
            RandomAccess.FlushToDisk(_handle);
        }
        catch (UnauthorizedAccessException exception)
        {
            throw new IOException(exception.Message, exception);
        }
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>A write failed because the file would grow past the largest size allowed (EFBIG): a new file can take more.</summary>
internal sealed class SegmentTooLargeException(Exception inner)
    : IOException("The segment file would grow past the largest size allowed (EFBIG).", inner);
