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
                ParenthesizedExpressionSyntax parenthesized => parenthesized.Parent is not InvocationExpressionSyntax,
                ConditionalExpressionSyntax conditional => conditional.Condition != node,
                ExpressionElementSyntax => true,
                SwitchExpressionArmSyntax arm => arm.Expression == node,
                InitializerExpressionSyntax => true,
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
            while (expression is ParenthesizedExpressionSyntax parenthesized)
            {
                expression = parenthesized.Expression;
            }

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
        public static CallSiteParseResult? Parse(SyntaxNode node, SemanticModel semanticModel, HookIndex index, CancellationToken cancellationToken)
        {
            string? name = CalledName(node);
            if (name is null || !Contains(index.Names, name))
            {
                return null;
            }

            // A static lambda: this runs for every candidate after every edit, so no closure is made per call.
            return Guarded(
                node,
                semanticModel,
                index,
                static (candidate, model, hooks, ct) => candidate is InvocationExpressionSyntax invocation
                    ? ParseInvocation(model, invocation, hooks, ct)
                    : ParseMethodGroup(model, (ExpressionSyntax)candidate, hooks, ct),
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
            HookIndex index,
            Func<SyntaxNode, SemanticModel, HookIndex, CancellationToken, CallSiteParseResult?> parse,
            string calledName,
            CancellationToken cancellationToken)
        {
            try
            {
                return parse(node, semanticModel, index, cancellationToken);
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

        internal static bool Contains(EquatableArray<string> sortedNames, string name)
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

        private static CallSiteParseResult? ParseInvocation(SemanticModel model, InvocationExpressionSyntax invocation, HookIndex index, CancellationToken cancellationToken)
        {
            SymbolInfo info = model.GetSymbolInfo(invocation, cancellationToken);
            if (info.Symbol is not IMethodSymbol called || HasDynamicArgument(model, invocation, cancellationToken))
            {
                return ParseUnboundInvocation(model, invocation, info, index, cancellationToken);
            }

            IMethodSymbol? target = HookTarget(called, model.Compilation, index);
            if (target is null)
            {
                return OverrideOfHookedMethod(called, model.Compilation, index) is { } overridden
                    ? CannotHook(
                        overridden,
                        invocation,
                        "it resolves to the override '" + called.ContainingType.Name + "." + called.Name + "', which has no [LogEvent] of its own",
                        "Put [LogEvent] on the override too (with a Name of its own), or call the method through a variable of the base type.")
                    : null;
            }

            string display = target.ContainingType.Name + "." + target.Name;
            if (IsInExpressionTree(model, invocation, cancellationToken))
            {
                return NotHooked(display, "a call inside an expression tree", invocation);
            }

            ExpressionSyntax callee = invocation.Expression;
            if (callee is MemberAccessExpressionSyntax { Expression: BaseExpressionSyntax })
            {
                return NotHooked(display, "a base call", invocation);
            }

            // Only an interface member can be reached through a type parameter that may be a struct (a class constraint
            // makes it a reference type), so other calls skip the look at the receiver's type.
            if (target.ContainingType.TypeKind == TypeKind.Interface
                && callee is MemberAccessExpressionSyntax { Expression: { } receiver }
                && model.GetTypeInfo(receiver, cancellationToken).Type is ITypeParameterSymbol typeParameter
                && (target.IsStatic || !typeParameter.IsReferenceType))
            {
                // A hook takes the receiver as the method's containing type: a struct behind a type parameter would be
                // boxed (a mutating method would change a copy), and a static virtual member needs the type argument.
                return CannotHook(
                    target,
                    invocation,
                    target.IsStatic
                        ? "it calls a static virtual interface member through the type parameter '" + typeParameter.Name + "', which a hook cannot do without the type argument"
                        : "it is called through the type parameter '" + typeParameter.Name + "', which may be a struct: the hook would box it, and a mutating method would change a copy",
                    target.IsStatic
                        ? "Call a [LogEvent] method from the implementation instead."
                        : "Constrain '" + typeParameter.Name + "' to 'class', call the method on a concrete type, or call a [LogEvent] method from the implementation.");
            }

            InterceptableLocation? location = model.GetInterceptableLocation(invocation, cancellationToken);
            if (location is null)
            {
                return CannotHook(target, invocation, "the compiler offers no interceptable location for this form of call", "Call the method by its name (receiver.Method(...)), without parentheses around the method.");
            }

            return new CallSiteParseResult(
                new CallSiteModel(EventParser.MethodKey(target), location.Version, location.Data, location.GetDisplayLocation()),
                null);
        }

        /// <summary>A call the compiler binds at run time (a dynamic argument or receiver): it cannot be intercepted.</summary>
        private static CallSiteParseResult? ParseUnboundInvocation(SemanticModel model, InvocationExpressionSyntax invocation, SymbolInfo info, HookIndex index, CancellationToken cancellationToken)
        {
            bool lateBound = info.CandidateReason == CandidateReason.LateBound
                || HasDynamicArgument(model, invocation, cancellationToken)
                || (invocation.Expression is MemberAccessExpressionSyntax { Expression: { } receiver }
                    && model.GetTypeInfo(receiver, cancellationToken).Type is { TypeKind: TypeKind.Dynamic });
            if (!lateBound)
            {
                return null;
            }

            IMethodSymbol? target = info.CandidateSymbols.Add(info.Symbol!).OfType<IMethodSymbol>().Select(c => HookTarget(c, model.Compilation, index)).FirstOrDefault(t => t is not null);
            string name = target is null ? CalledName(invocation) ?? "?" : target.ContainingType.Name + "." + target.Name;
            return new CallSiteParseResult(null, DiagnosticInfo.Create(
                DiagnosticDescriptors.CallCannotBeHooked,
                LocationInfo.From(invocation),
                name,
                target is null
                    ? "it is a dynamic call of a method with the name of a [LogEvent] method, bound only at run time"
                    : "it is a dynamic call (an argument or the receiver is 'dynamic'), bound only at run time",
                "Cast the dynamic values to their static types so that the call binds at compile time."));
        }

        private static bool HasDynamicArgument(SemanticModel model, InvocationExpressionSyntax invocation, CancellationToken cancellationToken)
        {
            if (invocation.ArgumentList.Arguments.Count == 0)
            {
                return false;
            }

            // A call with a dynamic argument is bound at run time and its value is 'dynamic' whatever the method returns:
            // one look at the call's type rules out almost every call without looking at each argument.
            if (model.GetTypeInfo(invocation, cancellationToken).Type is not { TypeKind: TypeKind.Dynamic })
            {
                return false;
            }

            foreach (ArgumentSyntax argument in invocation.ArgumentList.Arguments)
            {
                if (model.GetTypeInfo(argument.Expression, cancellationToken).Type is { TypeKind: TypeKind.Dynamic })
                {
                    return true;
                }
            }

            return false;
        }

        /// <summary>The [LogEvent] method of this compilation that <paramref name="called"/> overrides, if any.</summary>
        private static IMethodSymbol? OverrideOfHookedMethod(IMethodSymbol called, Compilation compilation, HookIndex index)
        {
            for (IMethodSymbol? method = called.OriginalDefinition.OverriddenMethod; method is not null; method = method.OverriddenMethod)
            {
                if (HookTarget(method, compilation, index) is { } target)
                {
                    return target;
                }
            }

            return null;
        }

        private static CallSiteParseResult CannotHook(IMethodSymbol target, SyntaxNode node, string why, string fix) =>
            new(null, DiagnosticInfo.Create(DiagnosticDescriptors.CallCannotBeHooked, LocationInfo.From(node), target.ContainingType.Name + "." + target.Name, why, fix));

        private static CallSiteParseResult? ParseMethodGroup(SemanticModel model, ExpressionSyntax expression, HookIndex index, CancellationToken cancellationToken)
        {
            SymbolInfo info = model.GetSymbolInfo(expression, cancellationToken);
            ISymbol? symbol = info.Symbol ?? (info.CandidateSymbols.Length == 1 ? info.CandidateSymbols[0] : null);
            if (symbol is not IMethodSymbol method || HookTarget(method, model.Compilation, index) is not { } target)
            {
                return null;
            }

            return NotHooked(target.ContainingType.Name + "." + target.Name, "a method group (a delegate or function pointer)", expression);
        }

        /// <summary>The hooked method a call resolves to: a <c>[LogEvent]</c> method with a body, declared in this compilation or listed by a reference.</summary>
        /// <remarks>
        /// Runs for every call of a method with a hooked name after every edit, so it allocates nothing: the attribute
        /// is matched by name parts rather than by a display string, and "has a body" is read from the symbol (a
        /// source method that is not partial, abstract or extern has one) rather than from its syntax.
        /// </remarks>
        private static IMethodSymbol? HookTarget(IMethodSymbol called, Compilation compilation, HookIndex index)
        {
            IMethodSymbol method = (called.ReducedFrom ?? called).OriginalDefinition;
            if (method.MethodKind != MethodKind.Ordinary
                || method.IsPartialDefinition
                || method.PartialDefinitionPart is not null
                || method.IsAbstract
                || method.IsExtern)
            {
                return null;
            }

            if (!SymbolEqualityComparer.Default.Equals(method.ContainingAssembly, compilation.Assembly))
            {
                // Declared in a reference: hooked only when that assembly lists it (a partial [LogEvent] method of a
                // library records by itself and must not be hooked again).
                return index.ExternalKeys.Count > 0 && Contains(index.ExternalKeys, EventParser.MethodKey(method)) ? method : null;
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
            foreach (SyntaxNode ancestor in node.Ancestors())
            {
                switch (ancestor)
                {
                    case AnonymousFunctionExpressionSyntax lambda when IsExpressionType(model.GetTypeInfo(lambda, cancellationToken).ConvertedType):
                        return true;

                    // A query clause over IQueryable becomes a lambda converted to an expression tree: the clause's method
                    // (Where, Select, OrderBy...) takes an Expression<...>.
                    case QueryClauseSyntax or SelectOrGroupClauseSyntax or OrderingSyntax or QueryContinuationSyntax when TakesExpression(QueryMethod(model, ancestor, cancellationToken)):
                        return true;
                }
            }

            return false;
        }

        private static IMethodSymbol? QueryMethod(SemanticModel model, SyntaxNode clause, CancellationToken cancellationToken) => clause switch
        {
            QueryClauseSyntax query => model.GetQueryClauseInfo(query, cancellationToken).OperationInfo.Symbol as IMethodSymbol
                ?? model.GetSymbolInfo(query, cancellationToken).Symbol as IMethodSymbol,
            _ => model.GetSymbolInfo(clause, cancellationToken).Symbol as IMethodSymbol,
        };

        private static bool TakesExpression(IMethodSymbol? method) =>
            method is not null && (method.ReducedFrom ?? method).Parameters.Any(p => IsExpressionType(p.Type));

        /// <summary>
        /// Whether a lambda converted to <paramref name="type"/> becomes an expression tree: <c>Expression&lt;TDelegate&gt;</c>,
        /// and since C# 10 also the base types <c>LambdaExpression</c> and <c>Expression</c> (a lambda's natural type).
        /// </summary>
        private static bool IsExpressionType(ITypeSymbol? type) =>
            type is INamedTypeSymbol { Name: "Expression" or "LambdaExpression", ContainingNamespace: { Name: "Expressions", ContainingNamespace: { Name: "Linq", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } } };

        private static CallSiteParseResult NotHooked(string method, string usage, SyntaxNode node) =>
            new(null, DiagnosticInfo.Create(DiagnosticDescriptors.CallNotHooked, LocationInfo.From(node), method, usage));
    }
}
