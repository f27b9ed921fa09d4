using System;
using System.Linq;
using System.Threading;
using Instrumentation.Generator.Model;
using Instrumentation.Generator.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Instrumentation.Generator.Parsing
{
    /// <summary>
    /// Finds the uses of hooked <c>[LogEvent]</c> methods: direct calls, which are intercepted, and uses as a
    /// method group or inside an expression tree, which cannot be and get a warning.
    /// </summary>
    internal static class CallSiteParser
    {
        /// <summary>
        /// Cheap syntactic filter: invocations, and names in the positions where a method group becomes a delegate
        /// (an argument, an initializer, the right of an assignment, a cast, a return, <c>&amp;</c>).
        /// </summary>
        public static bool IsCandidate(SyntaxNode node, CancellationToken cancellationToken)
        {
            if (node is InvocationExpressionSyntax)
            {
                return true;
            }

            if (node is not (IdentifierNameSyntax or MemberAccessExpressionSyntax or MemberBindingExpressionSyntax))
            {
                return false;
            }

            if (node is IdentifierNameSyntax && node.Parent is MemberAccessExpressionSyntax or MemberBindingExpressionSyntax)
            {
                return false; // the name part of a.b: the member access itself is the candidate
            }

            return node.Parent switch
            {
                ArgumentSyntax argument => argument.Parent?.Parent is not InvocationExpressionSyntax { Expression: IdentifierNameSyntax { Identifier.ValueText: "nameof" } },
                EqualsValueClauseSyntax => true,
                AssignmentExpressionSyntax assignment => assignment.Right == node,
                CastExpressionSyntax => true,
                ReturnStatementSyntax => true,
                ArrowExpressionClauseSyntax => true,
                PrefixUnaryExpressionSyntax prefix => prefix.IsKind(SyntaxKind.AddressOfExpression),
                _ => false,
            };
        }

        /// <summary>The simple name a candidate calls or names (<c>Run</c> for <c>a.b.Run(x)</c>), or null.</summary>
        public static string? CalledName(SyntaxNode node)
        {
            ExpressionSyntax? expression = node is InvocationExpressionSyntax invocation ? invocation.Expression : node as ExpressionSyntax;
            return expression switch
            {
                SimpleNameSyntax name => name.Identifier.ValueText,
                MemberAccessExpressionSyntax access => access.Name.Identifier.ValueText,
                MemberBindingExpressionSyntax binding => binding.Name.Identifier.ValueText,
                _ => null,
            };
        }

        /// <summary>
        /// Binds a candidate whose name is the name of a hooked method. Candidates with other names are skipped
        /// without touching the semantic model: binding is what makes this step expensive, and it runs again for every
        /// candidate whenever the compilation changes.
        /// </summary>
        public static CallSiteParseResult? Parse(SyntaxNode node, SemanticModel semanticModel, EquatableArray<string> hookedNames, CancellationToken cancellationToken)
        {
            string? name = CalledName(node);
            if (name is null || !Contains(hookedNames, name))
            {
                return null;
            }

            // A static lambda: this runs for every candidate after every edit, so no closure is made per call.
            return Guarded(
                node,
                semanticModel,
                static (candidate, model, ct) => candidate is InvocationExpressionSyntax invocation
                    ? ParseInvocation(model, invocation, ct)
                    : ParseMethodGroup(model, (ExpressionSyntax)candidate, ct),
                name,
                cancellationToken);
        }

        /// <summary>
        /// Runs <paramref name="parse"/>; an unexpected exception leaves the call as it is (not hooked) and says so with
        /// INST000 at the call, rather than failing the build or silently losing its events.
        /// </summary>
        internal static CallSiteParseResult? Guarded(
            SyntaxNode node,
            SemanticModel semanticModel,
            Func<SyntaxNode, SemanticModel, CancellationToken, CallSiteParseResult?> parse,
            string calledName,
            CancellationToken cancellationToken)
        {
            try
            {
                return parse(node, semanticModel, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception exception)
            {
                return new CallSiteParseResult(null, DiagnosticInfo.GeneratorFailure(
                    LocationInfo.From(node), "this call of '" + calledName + "'", "it is not hooked and records no event", exception));
            }
        }

        private static bool Contains(EquatableArray<string> sortedNames, string name)
        {
            int low = 0, high = sortedNames.Count - 1;
            while (low <= high)
            {
                int middle = (low + high) / 2;
                int order = string.CompareOrdinal(sortedNames[middle], name);
                if (order == 0)
                {
                    return true;
                }

                if (order < 0)
                {
                    low = middle + 1;
                }
                else
                {
                    high = middle - 1;
                }
            }

            return false;
        }

        private static CallSiteParseResult? ParseInvocation(SemanticModel model, InvocationExpressionSyntax invocation, CancellationToken cancellationToken)
        {
            if (model.GetSymbolInfo(invocation, cancellationToken).Symbol is not IMethodSymbol called)
            {
                return null;
            }

            IMethodSymbol? target = HookTarget(called, model.Compilation);
            if (target is null)
            {
                return null;
            }

            string display = target.ContainingType.Name + "." + target.Name;
            if (IsInExpressionTree(model, invocation, cancellationToken))
            {
                return NotHooked(display, "a call inside an expression tree", invocation);
            }

            if (invocation.Expression is MemberAccessExpressionSyntax { Expression: BaseExpressionSyntax })
            {
                return NotHooked(display, "a base call", invocation);
            }

            InterceptableLocation? location = model.GetInterceptableLocation(invocation, cancellationToken);
            if (location is null)
            {
                return null;
            }

            return new CallSiteParseResult(
                new CallSiteModel(EventParser.MethodKey(target), location.Version, location.Data, location.GetDisplayLocation()),
                null);
        }

        private static CallSiteParseResult? ParseMethodGroup(SemanticModel model, ExpressionSyntax expression, CancellationToken cancellationToken)
        {
            SymbolInfo info = model.GetSymbolInfo(expression, cancellationToken);
            ISymbol? symbol = info.Symbol ?? (info.CandidateSymbols.Length == 1 ? info.CandidateSymbols[0] : null);
            if (symbol is not IMethodSymbol method || HookTarget(method, model.Compilation) is not { } target)
            {
                return null;
            }

            return NotHooked(target.ContainingType.Name + "." + target.Name, "a method group (a delegate or function pointer)", expression);
        }

        /// <summary>The hooked method a call resolves to: a <c>[LogEvent]</c> method with a body, declared in this compilation.</summary>
        /// <remarks>
        /// Runs for every call of a method with a hooked name after every edit, so it allocates nothing: the attribute
        /// is matched by name parts rather than by a display string, and "has a body" is read from the symbol (a
        /// source method that is not partial, abstract or extern has one) rather than from its syntax.
        /// </remarks>
        private static IMethodSymbol? HookTarget(IMethodSymbol called, Compilation compilation)
        {
            IMethodSymbol method = (called.ReducedFrom ?? called).OriginalDefinition;
            if (method.MethodKind != MethodKind.Ordinary
                || method.IsPartialDefinition
                || method.PartialDefinitionPart is not null
                || method.IsAbstract
                || method.IsExtern
                || !SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, compilation.Assembly))
            {
                return null;
            }

            foreach (AttributeData attribute in method.GetAttributes())
            {
                if (IsLogEventAttribute(attribute.AttributeClass))
                {
                    return method;
                }
            }

            return null;
        }

        /// <summary>Whether <paramref name="type"/> is <c>Instrumentation.LogEventAttribute</c> (a top-level type in a top-level namespace).</summary>
        private static bool IsLogEventAttribute(INamedTypeSymbol? type) =>
            type is { Name: "LogEventAttribute", ContainingType: null, ContainingNamespace: { Name: "Instrumentation" } ns }
            && ns.ContainingNamespace is { IsGlobalNamespace: true };

        private static bool IsInExpressionTree(SemanticModel model, SyntaxNode node, CancellationToken cancellationToken)
        {
            foreach (AnonymousFunctionExpressionSyntax lambda in node.Ancestors().OfType<AnonymousFunctionExpressionSyntax>())
            {
                if (model.GetTypeInfo(lambda, cancellationToken).ConvertedType is INamedTypeSymbol { Name: "Expression", ContainingNamespace: { } ns }
                    && ns.ToDisplayString() == "System.Linq.Expressions")
                {
                    return true;
                }
            }

            return false;
        }

        private static CallSiteParseResult NotHooked(string method, string usage, SyntaxNode node) =>
            new(null, DiagnosticInfo.Create(DiagnosticDescriptors.CallNotHooked, LocationInfo.From(node), method, usage));
    }
}
