using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Instrumentation.Generator.Emitting;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Parsing;
using Microsoft.CodeAnalysis;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Instrumentation.Generator
{
    /// <summary>
    /// The Instrumentation source generator: turns <c>[LogEvent]</c> methods into typed payloads, partial-method
    /// bodies and call-site hooks.
    /// </summary>
    /// <remarks>
    /// Pipeline: <see cref="EventParser"/> makes one equatable model per <c>[LogEvent]</c> method and
    /// <see cref="CallSiteParser"/> one per call of a hooked method; <see cref="PayloadEmitter"/> and
    /// <see cref="HookEmitter"/> turn the collected models into two files. Each step has a tracking name so
    /// tests can check that unrelated edits leave it cached.
    /// </remarks>
    [Generator(LanguageNames.CSharp)]
    public sealed class LogEventGenerator : IIncrementalGenerator
    {
        internal const string Version = "0.1.0";

        /// <summary>Tracking names of the pipeline's steps.</summary>
        internal static class Steps
        {
            public const string ParsedEvents = nameof(ParsedEvents);
            public const string EventModels = nameof(EventModels);
            public const string AllEventModels = nameof(AllEventModels);
            public const string CallSites = nameof(CallSites);
            public const string HookInputs = nameof(HookInputs);
            public const string HookedNames = nameof(HookedNames);
            public const string PayloadConflicts = nameof(PayloadConflicts);
            public const string ReferencedEvents = nameof(ReferencedEvents);
        }

        /// <inheritdoc />
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            IncrementalValuesProvider<EventParseResult> parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    EventParser.LogEventAttributeName,
                    // Every target the attribute allows: the ones the generator cannot handle get INST013 rather than silence.
                    static (node, _) => node is MethodDeclarationSyntax or LocalFunctionStatementSyntax or AnonymousFunctionExpressionSyntax
                        or OperatorDeclarationSyntax or ConversionOperatorDeclarationSyntax or AccessorDeclarationSyntax,
                    EventParser.Parse)
                .WithTrackingName(Steps.ParsedEvents);

            IncrementalValueProvider<ImmutableArray<EventModel>> models = parsed
                .Where(static r => r.Model is not null)
                .Select(static (r, _) => r.Model!)
                .WithTrackingName(Steps.EventModels)
                .Collect()
                .WithTrackingName(Steps.AllEventModels);

            // Names of hooked methods (sorted): a cheap syntactic filter before any call site is bound.
            IncrementalValueProvider<EquatableArray<string>> hookedNames = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    EventParser.LogEventAttributeName,
                    static (node, _) => node is MethodDeclarationSyntax method && !method.Modifiers.Any(SyntaxKind.PartialKeyword),
                    static (ctx, _) => ((MethodDeclarationSyntax)ctx.TargetNode).Identifier.ValueText)
                .Collect()
                .Select(static (names, _) => new EquatableArray<string>(names.Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal)));

            // Hooked methods of referenced projects and packages, listed in their assembly attributes. Runs after every
            // edit, but what each referenced assembly lists is read once per assembly symbol (the compiler keeps those while
            // the references stay the same), so an edit costs a lookup per reference; equal lists leave later steps cached.
            IncrementalValueProvider<EquatableArray<EventModel>> referenced = context.CompilationProvider
                .Select(static (compilation, ct) => Parsing.ReferencedEvents.Read(compilation, ct))
                .WithTrackingName(Steps.ReferencedEvents);

            IncrementalValueProvider<HookIndex> hookIndex = hookedNames
                .Combine(referenced)
                .Select(static (input, _) => input.Right.Count == 0
                    ? new HookIndex(input.Left, EquatableArray<string>.Empty)
                    : new HookIndex(
                        new EquatableArray<string>(input.Left.Concat(input.Right.Select(m => m.MethodName.TrimStart('@'))).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal)),
                        new EquatableArray<string>(input.Right.Select(m => m.MethodKey).Distinct(StringComparer.Ordinal).OrderBy(n => n, StringComparer.Ordinal))))
                .WithTrackingName(Steps.HookedNames);

            // The tracked step keeps one entry per candidate (null for calls of other methods); the filtered list is what
            // is collected, so a file that gains or loses an unrelated call leaves the collected call sites equal.
            IncrementalValuesProvider<CallSiteParseResult?> callSites = context.SyntaxProvider
                .CreateSyntaxProvider(CallSiteParser.IsCandidate, static (ctx, _) => new CallSiteCandidate(ctx.Node, ctx.SemanticModel))
                .Combine(hookIndex)
                .Select(static (input, ct) => CallSiteParser.Parse(input.Left.Node, input.Left.SemanticModel, input.Right, ct))
                .WithTrackingName(Steps.CallSites);

            // Diagnostics are reported from steps that also see the compilation, only to map their stored locations back
            // onto syntax trees (so #pragma works); the steps that emit code never see the compilation and stay cached.
            IncrementalValueProvider<ImmutableArray<CallSiteParseResult>> allCallSites = callSites
                .Where(static r => r is not null)
                .Select(static (r, _) => r!)
                .Collect();
            // Payload types whose name is taken by a type of the compilation or its references are not emitted (INST016 says
            // why). Runs after every edit, but its result is a short list of names: equal lists leave the emit steps cached.
            IncrementalValueProvider<EquatableArray<string>> conflicts = models
                .Combine(context.CompilationProvider)
                .Select(static (input, ct) => PayloadNames.Conflicting(input.Left, input.Right, ct))
                .WithTrackingName(Steps.PayloadConflicts);
            IncrementalValueProvider<ImmutableArray<EventModel>> emitted = models
                .Combine(conflicts)
                .Select(static (input, _) => input.Right.Count == 0 ? input.Left : input.Left.Where(m => !PayloadNames.Contains(input.Right, m.PayloadFullName)).ToImmutableArray());

            context.RegisterSourceOutput(parsed.Collect().Combine(context.CompilationProvider), static (spc, input) => ReportEventDiagnostics(spc, input.Left, input.Right));
            context.RegisterSourceOutput(allCallSites.Combine(context.CompilationProvider), static (spc, input) => ReportCallSiteDiagnostics(spc, input.Left, TreesByPath(input.Right)));
            context.RegisterSourceOutput(emitted, EmitPayloads);
            context.RegisterSourceOutput(
                allCallSites.Combine(emitted).Combine(referenced).WithTrackingName(Steps.HookInputs),
                static (spc, input) => EmitHooks(spc, input.Left.Left, input.Left.Right, input.Right));
        }

        private static Dictionary<string, SyntaxTree> TreesByPath(Compilation compilation)
        {
            var trees = new Dictionary<string, SyntaxTree>(StringComparer.Ordinal);
            foreach (SyntaxTree tree in compilation.SyntaxTrees)
            {
                trees[tree.FilePath] = tree;
            }

            return trees;
        }

        private static void ReportCallSiteDiagnostics(SourceProductionContext context, ImmutableArray<CallSiteParseResult> callSites, Dictionary<string, SyntaxTree> trees)
        {
            foreach (CallSiteParseResult result in callSites)
            {
                if (result.Diagnostic is not null)
                {
                    context.ReportDiagnostic(result.Diagnostic.ToDiagnostic(trees));
                }
            }
        }

        private static void ReportEventDiagnostics(SourceProductionContext context, ImmutableArray<EventParseResult> results, Compilation compilation)
        {
            Dictionary<string, SyntaxTree> trees = TreesByPath(compilation);
            var firstByPayload = new Dictionary<string, EventParseResult>(StringComparer.Ordinal);
            var firstByEventName = new Dictionary<string, EventParseResult>(StringComparer.Ordinal);
            foreach (EventParseResult result in results)
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                foreach (DiagnosticInfo diagnostic in result.Diagnostics)
                {
                    context.ReportDiagnostic(diagnostic.ToDiagnostic(trees));
                }

                if (result.PayloadKey is null)
                {
                    continue;
                }

                // The protocol wants an event type unique per assembly: the same name in two namespaces is a duplicate too.
                if (firstByPayload.TryGetValue(result.PayloadKey, out EventParseResult? first)
                    || (result.EventName is not null && firstByEventName.TryGetValue(result.EventName, out first)))
                {
                    context.ReportDiagnostic(DiagnosticInfo.Create(
                        DiagnosticDescriptors.DuplicateEventName,
                        result.Location,
                        result.EventName ?? string.Empty,
                        result.PayloadKey,
                        first.MethodDisplayName).ToDiagnostic(trees));
                    continue;
                }

                firstByPayload.Add(result.PayloadKey, result);
                if (result.EventName is not null)
                {
                    firstByEventName.Add(result.EventName, result);
                }

                if (result.Model is not null && PayloadNames.Conflict(result.Model, result.AttributeLocation ?? result.Location, compilation, context.CancellationToken) is { } conflict)
                {
                    context.ReportDiagnostic(conflict.ToDiagnostic(trees));
                }

                if (result.Model is { Form: EventForm.Hook, IsHookableFromOtherAssemblies: true })
                {
                    context.ReportDiagnostic(DiagnosticInfo.Create(DiagnosticDescriptors.PublicHookNotRecordedEverywhere, result.Location, result.MethodDisplayName).ToDiagnostic(trees));
                }
            }
        }

        private static void EmitPayloads(SourceProductionContext context, ImmutableArray<EventModel> events)
        {
            if (events.IsEmpty)
            {
                return;
            }

            context.AddSource("Instrumentation.Events.g.cs", PayloadEmitter.Emit(events, Owners(events)));
        }

        private static void EmitHooks(SourceProductionContext context, ImmutableArray<CallSiteParseResult> callSites, ImmutableArray<EventModel> events, EquatableArray<EventModel> referenced)
        {
            HashSet<EventModel> owners = Owners(events);
            var hooks = new List<(EventModel, IReadOnlyList<CallSiteModel>)>();
            foreach (EventModel model in events.Where(e => e.Form == EventForm.Hook && owners.Contains(e)).Concat(referenced))
            {
                var calls = callSites
                    .Where(r => r.CallSite is not null && r.CallSite.MethodKey == model.MethodKey)
                    .Select(r => r.CallSite!)
                    .ToList();
                if (calls.Count > 0)
                {
                    hooks.Add((model, calls));
                }
            }

            if (hooks.Count > 0)
            {
                context.AddSource("Instrumentation.Hooks.g.cs", HookEmitter.Emit(hooks));
            }
        }

        /// <summary>A candidate node with the semantic model of its tree; bound only if its name is a hooked method's.</summary>
        private sealed class CallSiteCandidate(SyntaxNode node, SemanticModel semanticModel)
        {
            public SyntaxNode Node { get; } = node;

            public SemanticModel SemanticModel { get; } = semanticModel;
        }

        /// <summary>The events that own their payload type: the first of each payload name (later ones get INST006).</summary>
        private static HashSet<EventModel> Owners(ImmutableArray<EventModel> events)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var owners = new HashSet<EventModel>();
            foreach (EventModel model in events)
            {
                if (seen.Add(model.PayloadFullName))
                {
                    owners.Add(model);
                }
            }

            return owners;
        }
    }
}
