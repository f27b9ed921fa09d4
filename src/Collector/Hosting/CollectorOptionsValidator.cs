using Microsoft.Extensions.Options;

namespace Instrumentation.Collector.Hosting;

/// <summary>
/// Checks <see cref="CollectorOptions"/> when the service starts, so that a mistyped setting stops it with a message
/// naming the setting instead of surfacing later as odd behaviour.
/// </summary>
public sealed class CollectorOptionsValidator : IValidateOptions<CollectorOptions>
{
    /// <summary>The shortest key accepted: a guessable key is no protection.</summary>
    public const int MinimumKeyLength = 16;

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, CollectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DatabasePath))
        {
            failures.Add("Collector:DatabasePath must name the SQLite file (for example collector.db).");
        }

        failures.AddRange(options.Storage?.Validate() ?? ["Collector:Storage must not be null."]);
        Range(failures, nameof(CollectorOptions.MaxRequestBytes), options.MaxRequestBytes, 1024, 256 * 1024 * 1024);
        Range(failures, nameof(CollectorOptions.MaxEventsPerBatch), options.MaxEventsPerBatch, 1, 100_000);
        Range(failures, nameof(CollectorOptions.MaxEventBytes), options.MaxEventBytes, 256, int.MaxValue);
        if (options.MaxEventBytes > options.MaxRequestBytes)
        {
            failures.Add($"Collector:MaxEventBytes ({options.MaxEventBytes}) must not exceed Collector:MaxRequestBytes ({options.MaxRequestBytes}).");
        }

        Range(failures, nameof(CollectorOptions.MaxEventDepth), options.MaxEventDepth, 2, 60);
        Range(failures, nameof(CollectorOptions.RequestsPerSecondPerKey), options.RequestsPerSecondPerKey, 0, 1_000_000);
        if (options.RequestsPerSecondPerKey > 0)
        {
            Range(failures, nameof(CollectorOptions.BurstPerKey), options.BurstPerKey, 1, 1_000_000);
        }

        Range(failures, nameof(CollectorOptions.FailedAuthenticationsPerMinute), options.FailedAuthenticationsPerMinute, 0, 1_000_000);
        Range(failures, nameof(CollectorOptions.MaxPageSize), options.MaxPageSize, 1, 100_000);
        Keys(failures, nameof(CollectorOptions.ApiKeys), options.ApiKeys);
        Keys(failures, nameof(CollectorOptions.IngestKeys), options.IngestKeys);
        Keys(failures, nameof(CollectorOptions.ReadKeys), options.ReadKeys);
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void Range(List<string> failures, string name, int value, int minimum, int maximum)
    {
        if (value < minimum || value > maximum)
        {
            failures.Add($"Collector:{name} must be from {minimum} to {maximum}; got {value}.");
        }
    }

    private static void Keys(List<string> failures, string name, List<string>? keys)
    {
        for (int i = 0; i < (keys?.Count ?? 0); i++)
        {
            string key = keys![i] ?? string.Empty;
            if (key.Length < MinimumKeyLength)
            {
                failures.Add($"Collector:{name}:{i} is {key.Length} characters long; keys need at least {MinimumKeyLength} (generate one with `openssl rand -base64 32`).");
            }
            else if (key.Any(c => c <= ' ' || c > '~'))
            {
                failures.Add($"Collector:{name}:{i} holds a space, a control or a non-ASCII character; a key must be printable ASCII to travel in an Authorization header.");
            }
        }
    }
}
