using System.Security.Cryptography;
using System.Text;
using Instrumentation.Collector.Hosting;
using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Security;

/// <summary>
/// The configured API keys and what each may do. A presented key is compared as a SHA-256 hash with
/// <see cref="CryptographicOperations.FixedTimeEquals"/> against every known key, so neither the content nor the length
/// of a key leaks through timing.
/// </summary>
internal sealed class ApiKeyCheck
{
    private readonly Entry[] _entries;

    public ApiKeyCheck(IOptions<CollectorOptions> options)
    {
        CollectorOptions value = options.Value;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        Add(entries, value.ApiKeys, CollectorRoles.Ingest, CollectorRoles.Read);
        Add(entries, value.IngestKeys, CollectorRoles.Ingest);
        Add(entries, value.ReadKeys, CollectorRoles.Read);
        _entries = [.. entries.Values];
    }

    /// <summary>Whether any key is configured; without keys every request is allowed.</summary>
    public bool Enabled => _entries.Length > 0;

    /// <summary>Finds the key; null when it is not one of the configured keys.</summary>
    public ApiKey? Find(string presented)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        ApiKey? found = null;
        foreach (Entry entry in _entries)
        {
            if (CryptographicOperations.FixedTimeEquals(hash, entry.Hash)) // no early exit: every key is compared
            {
                found = entry.Key;
            }
        }

        return found;
    }

    private static void Add(Dictionary<string, Entry> entries, List<string>? keys, params string[] roles)
    {
        foreach (string key in keys ?? [])
        {
            if (string.IsNullOrEmpty(key))
            {
                continue;
            }

            byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
            // The key's identity in logs and rate-limit partitions: a short hash prefix, never the key itself.
            string id = Convert.ToHexStringLower(hash, 0, 6);
            string[] merged = entries.TryGetValue(key, out Entry? existing) ? [.. existing.Key.Roles.Union(roles)] : roles;
            entries[key] = new Entry(hash, new ApiKey(id, merged));
        }
    }

    private sealed record Entry(byte[] Hash, ApiKey Key);
}

/// <summary>A configured key: its identity (a hash prefix) and its roles.</summary>
/// <param name="Id">12 hex digits of the key's SHA-256: safe to log.</param>
/// <param name="Roles">What it may do (<see cref="CollectorRoles"/>).</param>
internal sealed record ApiKey(string Id, IReadOnlyList<string> Roles);
