using System.Text.Json.Serialization;

namespace Prefork.Control;

/// <summary>
/// The JSON form of <see cref="WorkerSettings"/>, generated at compile time: the NativeAOT master and worker
/// have no reflection to serialize with. Enums travel by name, so a record reads the same in a log or in
/// /proc/PID/environ; computed members (HttpLimits.MaxHeadSize and the like) are not sent, only what they follow from.
/// </summary>
[JsonSourceGenerationOptions(UseStringEnumConverter = true, IgnoreReadOnlyProperties = true)]
[JsonSerializable(typeof(WorkerSettings))]
internal sealed partial class WorkerSettingsJson : JsonSerializerContext;
