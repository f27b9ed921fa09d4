using System.Globalization;
using System.Net;
using System.Text;
using Instrumentation.Collector.Dashboard.Queries;

namespace Instrumentation.Collector.Dashboard.Charts;

/// <summary>
/// Renders a <see cref="TimeSeries"/> as a stacked bar chart in SVG, on the server. Every bar segment carries its type
/// and count (<c>data-type</c>, <c>data-count</c>) and a <c>&lt;title&gt;</c> tooltip; the legend lists each type's
/// total. The SVG scales to its container through its <c>viewBox</c>; colours come from CSS classes.
/// </summary>
/// <remarks>
/// A few hundred lines of SVG text are all a stacked bar chart needs. A plotting library (ScottPlot renders through
/// SkiaSharp) would bring native binaries into a service operators deploy on any platform, and its SVG output is
/// drawn paths without the per-segment data that makes the chart accessible and testable.
/// </remarks>
public static class StackedBarChart
{
    /// <summary>How many distinct colours the stylesheet defines (<c>.s0</c> … <c>.s9</c>); more types reuse them.</summary>
    public const int Palette = 10;

    private const double Width = 960, Height = 300, Left = 56, Right = 12, Top = 12, Bottom = 40;

    /// <summary>The SVG markup for <paramref name="series"/>.</summary>
    /// <param name="series">The counts.</param>
    /// <param name="title">The chart's accessible name.</param>
    /// <returns>An <c>&lt;svg&gt;</c> element.</returns>
    public static string Render(TimeSeries series, string title)
    {
        ArgumentNullException.ThrowIfNull(series);
        string[] types = [.. series.Counts.Keys];
        long max = 0;
        for (int b = 0; b < series.BucketCount; b++)
        {
            long stack = 0;
            foreach (long[] counts in series.Counts.Values)
            {
                stack += counts[b];
            }

            max = Math.Max(max, stack);
        }

        long axisMax = NiceCeiling(max);
        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double slot = plotWidth / series.BucketCount;
        double barWidth = Math.Max(1, slot * 0.8);
        var svg = new StringBuilder(4096);
        svg.Append(CultureInfo.InvariantCulture, $"<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {Width} {Height}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{Encode(title)}</title>");

        // Horizontal grid lines with their values.
        for (int i = 0; i <= 4; i++)
        {
            long value = axisMax * i / 4;
            double y = Top + plotHeight - (plotHeight * i / 4);
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"grid\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{y:0.#}\" y2=\"{y:0.#}\"/>");
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{Left - 6}\" y=\"{y + 4:0.#}\" text-anchor=\"end\">{value:N0}</text>");
        }

        // Bars: one group per bucket, segments stacked from the bottom in type order.
        for (int b = 0; b < series.BucketCount; b++)
        {
            double x = Left + (b * slot) + ((slot - barWidth) / 2);
            double baseline = Top + plotHeight;
            DateTimeOffset start = series.From + (series.BucketSize * b);
            for (int t = 0; t < types.Length; t++)
            {
                long count = series.Counts[types[t]][b];
                if (count == 0)
                {
                    continue;
                }

                double h = plotHeight * count / axisMax;
                baseline -= h;
                svg.Append(CultureInfo.InvariantCulture,
                    $"<rect class=\"s{t % Palette}\" data-type=\"{Encode(types[t])}\" data-count=\"{count}\" x=\"{x:0.##}\" y=\"{baseline:0.##}\" width=\"{barWidth:0.##}\" height=\"{h:0.##}\"><title>{Encode(types[t])}: {count:N0} at {start:yyyy-MM-dd HH:mm} UTC</title></rect>");
            }
        }

        // Time labels: about six, on bucket boundaries.
        int every = Math.Max(1, series.BucketCount / 6);
        string format = series.BucketSize >= TimeSpan.FromHours(1) || series.BucketCount * series.BucketSize > TimeSpan.FromDays(1) ? "MM-dd HH:mm" : "HH:mm";
        for (int b = 0; b < series.BucketCount; b += every)
        {
            double x = Left + (b * slot);
            if (x > Width - Right - 60)
            {
                break; // a label this close to the right edge would be cut off
            }

            DateTimeOffset at = series.From + (series.BucketSize * b);
            svg.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{x:0.#}\" y=\"{Height - Bottom + 16}\">{at.ToString(format, CultureInfo.InvariantCulture)}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<line class=\"baseline\" x1=\"{Left}\" x2=\"{Width - Right}\" y1=\"{Top + plotHeight}\" y2=\"{Top + plotHeight}\"/>");
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>The smallest of 1, 2, 2.5 or 5 times a power of ten at or above <paramref name="value"/> (at least 4).</summary>
    /// <param name="value">The largest stack.</param>
    /// <returns>The axis maximum.</returns>
    public static long NiceCeiling(long value)
    {
        if (value <= 4)
        {
            return 4;
        }

        long power = 1;
        while (power * 10 < value)
        {
            power *= 10;
        }

        foreach (long step in new[] { 1L, 2L, 4L, 5L, 10L })
        {
            if (step * power >= value && step * power % 4 == 0)
            {
                return step * power;
            }
        }

        return 10 * power;
    }

    private static string Encode(string text) => WebUtility.HtmlEncode(text);
}
