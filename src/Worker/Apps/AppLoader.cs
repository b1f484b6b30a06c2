using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using Prefork.App;

namespace Prefork.Worker.Apps;

/// <summary>
/// Loads the user's app (--app) into its own AssemblyLoadContext, so its dependencies come from its own
/// folder (as its .deps.json lists them) and cannot clash with the worker's. The one assembly both sides share
/// is the contract, Prefork.App: the app's IHttpApp must be the very type the worker calls.
/// </summary>
public static class AppLoader
{
    /// <summary>
    /// False in the NativeAOT worker: a binary with no JIT cannot run an assembly it was not compiled with,
    /// and the AOT compiler drops this loader from it.
    /// </summary>
    [FeatureGuard(typeof(RequiresDynamicCodeAttribute))]
    private static bool IsSupported => RuntimeFeature.IsDynamicCodeSupported;

    /// <summary>
    /// Throws, with a message fit for the log, when the assembly or the type cannot be used. Whether this build
    /// can run --app at all is the master's decision (MasterConfig refuses --app beside a NativeAOT worker), and
    /// the worker trusts its settings: the guard here is what lets the AOT compiler drop the loader, and only a
    /// worker started by hand with a made-up record reaches its throw.
    /// </summary>
    public static IHttpApp Load(string assemblyPath, string? typeName) =>
        IsSupported ? LoadWithJit(assemblyPath, typeName) : throw new InvalidOperationException("a NativeAOT worker cannot load --app");

    [RequiresDynamicCode("Runs an assembly compiled just in time")]
    // Trimming only happens in the NativeAOT build, where IsSupported is false and this code is gone; in the
    // JIT worker every type of the user's assembly is there to reflect over.
    [UnconditionalSuppressMessage("Trimming", "IL2026")]
    [UnconditionalSuppressMessage("Trimming", "IL2072")]
    [UnconditionalSuppressMessage("Trimming", "IL2075")]
    private static IHttpApp LoadWithJit(string assemblyPath, string? typeName)
    {
        var assembly = new AppLoadContext(assemblyPath).LoadFromAssemblyPath(assemblyPath);
        var type = typeName != null
            ? assembly.GetType(typeName) ?? throw new InvalidOperationException($"{assemblyPath} has no type {typeName}")
            : FindTheApp(assembly, assemblyPath);
        if (!typeof(IHttpApp).IsAssignableFrom(type) || type.IsAbstract)
            throw new InvalidOperationException($"{type.FullName} is not a concrete class implementing {typeof(IHttpApp).FullName}");
        if (type.GetConstructor(Type.EmptyTypes) == null)
            throw new InvalidOperationException($"{type.FullName} has no public parameterless constructor");
        try
        {
            return (IHttpApp)Activator.CreateInstance(type)!;
        }
        catch (TargetInvocationException e) when (e.InnerException != null)
        {
            throw new InvalidOperationException($"{type.FullName}'s constructor failed: {e.InnerException.Message}", e.InnerException);
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "As in LoadWithJit")]
    private static Type FindTheApp(Assembly assembly, string path)
    {
        var apps = assembly.GetExportedTypes().Where(t => typeof(IHttpApp).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface).ToList();
        return apps.Count switch
        {
            1 => apps[0],
            0 => throw new InvalidOperationException($"{path} has no public class implementing {typeof(IHttpApp).FullName}"),
            _ => throw new InvalidOperationException(
                $"{path} has several IHttpApp classes ({string.Join(", ", apps.Select(t => t.FullName))}); name one: --app {path}:Namespace.Type"),
        };
    }

    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "As in LoadWithJit")]
    private sealed class AppLoadContext(string assemblyPath) : AssemblyLoadContext(Path.GetFileNameWithoutExtension(assemblyPath))
    {
        private static readonly string ContractName = typeof(IHttpApp).Assembly.GetName().Name!;
        private readonly AssemblyDependencyResolver _resolver = new(assemblyPath);

        protected override Assembly? Load(AssemblyName name)
        {
            // null defers to the worker's own context: the contract (even if the app's folder holds a copy)
            // and the framework.
            if (name.Name == ContractName) return null;
            return _resolver.ResolveAssemblyToPath(name) is { } path ? LoadFromAssemblyPath(path) : null;
        }

        protected override nint LoadUnmanagedDll(string name) =>
            _resolver.ResolveUnmanagedDllToPath(name) is { } path ? LoadUnmanagedDllFromPath(path) : 0;
    }
}
