using System;
using System.Collections.Generic;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace Instrumentation.Generator.Model
{
    /// <summary>A location held as plain values, so that diagnostics can travel through cached models.</summary>
    internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
    {
        /// <summary>
        /// The location in <paramref name="trees"/>' matching tree when there is one (so that <c>#pragma warning disable</c>
        /// and editor squiggles work), else an external location by path.
        /// </summary>
        public Location ToLocation(IReadOnlyDictionary<string, SyntaxTree>? trees = null) =>
            trees is not null && trees.TryGetValue(FilePath, out SyntaxTree? tree) && Span.End <= tree.Length
                ? Location.Create(tree, Span)
                : Location.Create(FilePath, Span, LineSpan);

        public static LocationInfo? From(Location? location)
        {
            if (location is null || location.SourceTree is null)
            {
                return null;
            }

            return new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
        }

        public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

        public static LocationInfo? From(SyntaxToken token) => From(token.GetLocation());
    }

    /// <summary>A diagnostic to report later, held as plain values.</summary>
    internal sealed record DiagnosticInfo(DiagnosticDescriptor Descriptor, LocationInfo? Location, EquatableArray<string> MessageArgs)
    {
        public static DiagnosticInfo Create(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] messageArgs) =>
            new(descriptor, location, new EquatableArray<string>(messageArgs));

        /// <summary>INST000: the generator failed on <paramref name="subject"/>; says what that cost and which exception it was.</summary>
        public static DiagnosticInfo GeneratorFailure(LocationInfo? location, string subject, string consequence, Exception exception) =>
            Create(DiagnosticDescriptors.GeneratorFailure, location, subject, consequence, exception.GetType().Name + ": " + exception.Message);

        public Diagnostic ToDiagnostic(IReadOnlyDictionary<string, SyntaxTree>? trees = null) =>
            Diagnostic.Create(Descriptor, Location?.ToLocation(trees), MessageArgs.ToArrayOfObjects());
    }

    internal static class EquatableArrayExtensions
    {
        public static object[] ToArrayOfObjects(this EquatableArray<string> items)
        {
            var result = new object[items.Count];
            for (int i = 0; i < items.Count; i++)
            {
                result[i] = items[i];
            }

            return result;
        }
    }
}
