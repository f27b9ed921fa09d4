using System;

namespace Instrumentation
{
    /// <summary>
    /// Excludes a parameter of a <see cref="LogEventAttribute"/> method from the recorded event
    /// (for secrets, large objects, or types the wire format does not support).
    /// </summary>
    [AttributeUsage(AttributeTargets.Parameter, AllowMultiple = false, Inherited = false)]
    public sealed class NotLoggedAttribute : Attribute
    {
    }
}
