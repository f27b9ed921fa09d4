using Instrumentation.Generator.Model;

namespace Instrumentation.Generator.Emitting
{
    /// <summary>The C# statements that write one value of each supported kind to a <c>Utf8JsonWriter</c> named <c>writer</c>.</summary>
    internal static class ValueWriters
    {
        private const string DataWriter = "global::Instrumentation.Serialization.EventDataWriter";

        /// <summary>Writes the property of <paramref name="parameter"/>, whose value is <c>this.{PropertyName}</c>.</summary>
        public static void WriteProperty(CodeWriter code, ParameterModel parameter, int index, string enumWriter)
        {
            code.Line("writer.WritePropertyName(__Json.P" + index + ");");
            string value = "this." + parameter.PropertyName;
            if (parameter.IsCollection)
            {
                // An argument that could not be copied when the call was recorded is written as its marker string.
                code.Open("if (" + value + " is global::Instrumentation.Serialization.INotCapturedValue __missing" + index + ")");
                code.Line("writer.WriteStringValue(__missing" + index + ".Marker);");
                code.Close();
                code.Open("else if (" + value + " is { } __values" + index + ")");
                code.Line("writer.WriteStartArray();");
                code.Open("foreach (var __item" + index + " in __values" + index + ")");
                WriteOne(code, parameter, "__item" + index, index, enumWriter);
                code.Close();
                code.Line("writer.WriteEndArray();");
                code.Close();
                code.Open("else");
                code.Line("writer.WriteNullValue();");
                code.Close();
            }
            else
            {
                WriteOne(code, parameter, value, index, enumWriter);
            }
        }

        private static void WriteOne(CodeWriter code, ParameterModel parameter, string value, int index, string enumWriter)
        {
            if (!parameter.IsNullable)
            {
                code.Line(Statement(parameter.Kind, value, enumWriter));
                return;
            }

            // Pattern variables live on after the if statement, hence the index in their names.
            code.Open("if (" + value + " is { } __value" + index + ")");
            code.Line(Statement(parameter.Kind, "__value" + index, enumWriter));
            code.Close();
            code.Open("else");
            code.Line("writer.WriteNullValue();");
            code.Close();
        }

        private static string Statement(ValueKind kind, string v, string enumWriter) => kind switch
        {
            ValueKind.String => "writer.WriteStringValue(" + v + ");",
            ValueKind.Boolean => "writer.WriteBooleanValue(" + v + ");",
            ValueKind.Integer or ValueKind.Decimal => "writer.WriteNumberValue(" + v + ");",
            ValueKind.NativeInteger => "writer.WriteNumberValue((long)" + v + ");",
            ValueKind.NativeUnsignedInteger => "writer.WriteNumberValue((ulong)" + v + ");",
            ValueKind.Single or ValueKind.Double => DataWriter + ".WriteNumberValue(writer, " + v + ");",
            ValueKind.Char => DataWriter + ".WriteCharValue(writer, " + v + ");",
            ValueKind.Guid or ValueKind.DateTime or ValueKind.DateTimeOffset => "writer.WriteStringValue(" + v + ");",
            ValueKind.TimeSpan => DataWriter + ".WriteNumberValue(writer, " + v + ".TotalMilliseconds);",
            ValueKind.Uri => "writer.WriteStringValue(" + v + ".OriginalString);",
            ValueKind.Enum => enumWriter + "(writer, " + v + ");",
            _ => "writer.WriteNullValue();",
        };
    }
}
