using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Checks <c>Authorization: Bearer &lt;key&gt;</c> against the configured keys in constant time: keys are compared as
/// SHA-256 hashes with <see cref="CryptographicOperations.FixedTimeEquals"/>, so neither the content nor the length of a
/// key leaks through timing.
/// </summary>
internal sealed class ApiKeyCheck(IEnumerable<string> keys)
{
    private readonly byte[][] _hashes = [.. keys.Where(k => !string.IsNullOrEmpty(k)).Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];

    public bool Enabled => _hashes.Length > 0;

    /// <summary>The key a request presents, or null.</summary>
    public static string? PresentedKey(HttpRequest request)
    {
        string header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;
    }

    public bool IsValid(string? presented)
    {
        if (presented is null)
        {
            return false;
        }

        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(presented));
        bool match = false;
        foreach (byte[] known in _hashes)
        {
            match |= CryptographicOperations.FixedTimeEquals(hash, known); // no early exit: every key is compared
        }

        return match;
    }
}
