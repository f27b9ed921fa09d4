using Instrumentation.Spool;

namespace Instrumentation.Tests.Upload;

/// <summary>
/// Real segment files on a disk that fills up: once <see cref="Budget"/> bytes have been written, a write puts what
/// still fits on disk (a torn write, for real, in the real file) and throws as a full disk does (ENOSPC).
/// </summary>
internal sealed class FullDisk
{
    private readonly object _gate = new();
    private long _budget = long.MaxValue;

    /// <summary>Bytes the disk still takes; <see cref="long.MaxValue"/> when it has room again.</summary>
    public long Budget
    {
        get { lock (_gate) { return _budget; } }
        set { lock (_gate) { _budget = value; } }
    }

    /// <summary>Whether cutting a file back fails too (an I/O error, not just a full disk).</summary>
    public bool TruncateFails { get; set; }

    /// <summary>Called after a torn write reached the disk and before the spool learns of it (the instant of a kill -9).</summary>
    public Action? OnTornWrite { get; set; }

    public int FailedWrites { get; private set; }

    /// <summary>Whether the next fsync fails (once): the disk did not confirm what was written.</summary>
    public bool FailNextSync { get; set; }

    /// <summary>Files closed while holding bytes written since their last fsync.</summary>
    public int ClosedUnsynced { get; private set; }

    /// <summary>The largest size of a file (RLIMIT_FSIZE): a write past it puts what fits and fails with EFBIG.</summary>
    public long FileSizeLimit { get; set; } = long.MaxValue;

    /// <summary>Whether creating a segment file fails (no inode left, a read-only remount).</summary>
    public bool CreateFails { get; set; }

    public ISegmentFile Create(string path) =>
        CreateFails ? throw new IOException("No space left on device", 28) : new File(this, SegmentFile.Create(path));

    /// <summary>A file on this disk: bytes written past its end take space, bytes written over what it holds do not (no copy-on-write).</summary>
    private sealed class File(FullDisk disk, ISegmentFile inner) : ISegmentFile
    {
        private long _length;
        private bool _dirty;

        public void Write(ReadOnlySpan<byte> bytes, long offset)
        {
            if (offset + bytes.Length > disk.FileSizeLimit)
            {
                int below = (int)Math.Max(0, disk.FileSizeLimit - offset);
                Write(bytes[..below], offset);
                lock (disk._gate)
                {
                    disk.FailedWrites++;
                }

                throw new SegmentTooLargeException(new ArgumentOutOfRangeException(nameof(bytes)));
            }

            int fits;
            lock (disk._gate)
            {
                long over = Math.Min(bytes.Length, Math.Max(0, _length - offset));
                long needed = bytes.Length - over;
                if (needed <= disk._budget)
                {
                    disk._budget = disk._budget == long.MaxValue ? long.MaxValue : disk._budget - needed;
                    fits = -1;
                }
                else
                {
                    fits = (int)(over + disk._budget);
                    disk._budget = 0;
                    disk.FailedWrites++;
                }

                _length = Math.Max(_length, offset + (fits < 0 ? bytes.Length : fits));
            }

            _dirty = true;
            if (fits < 0)
            {
                inner.Write(bytes, offset);
                return;
            }

            inner.Write(bytes[..fits], offset);
            disk.OnTornWrite?.Invoke();
            throw new IOException("No space left on device", 28);
        }

        public void Truncate(long length)
        {
            if (disk.TruncateFails)
            {
                throw new IOException("Input/output error", 5);
            }

            inner.Truncate(length);
            lock (disk._gate)
            {
                _length = length;
            }
        }

        public void Sync()
        {
            if (disk.FailNextSync)
            {
                disk.FailNextSync = false;
                throw new IOException("Input/output error", 5);
            }

            inner.Sync();
            _dirty = false;
        }

        public void Dispose()
        {
            if (_dirty)
            {
                lock (disk._gate)
                {
                    disk.ClosedUnsynced++;
                }
            }

            inner.Dispose();
        }
    }
}
