using System;

namespace Instrumentation
{
    /// <summary>
    /// Marks a method as an activity event. The Instrumentation source generator turns it, at compile time,
    /// into a typed payload and the code that records it:
    /// <list type="bullet">
    /// <item><description>on a <c>partial</c> method without a body, the generator writes the body: calling the method records the event;</description></item>
    /// <item><description>on an ordinary method with a body, every call site in the same project is intercepted: the original
    /// method runs unchanged and the event is recorded with its arguments, its duration and, on failure, the exception's type.</description></item>
    /// </list>
    /// </summary>
    [AttributeUsage(AttributeTargets.Method, AllowMultiple = false, Inherited = false)]
    public sealed class LogEventAttribute : Attribute
    {
        /// <summary>Creates the attribute.</summary>
        /// <param name="priority">Whether the event is uploaded at once or in a batch.</param>
        public LogEventAttribute(Priority priority)
        {
            Priority = priority;
        }

        /// <summary>Whether the event is uploaded at once or in a batch.</summary>
        public Priority Priority { get; }

        /// <summary>
        /// The event's <c>type</c> on the wire. When not set, the method name in snake_case is used
        /// (<c>ExecuteCellAsync</c> becomes <c>execute_cell_async</c>). Must be unique within an assembly.
        /// </summary>
        public string? Name { get; set; }

        /// <summary>
        /// The simple name of the generated payload type, declared in the method's namespace (for example
        /// <c>PayloadType = "CellRun"</c>). When not set, the event name in PascalCase followed by <c>Event</c> is used
        /// (<c>execute_cell_async</c> becomes <c>ExecuteCellAsyncEvent</c>). Set it when that name is already taken by
        /// another type (diagnostic INST016) or would hide one (INST017).
        /// </summary>
        public string? PayloadType { get; set; }
    }
}
