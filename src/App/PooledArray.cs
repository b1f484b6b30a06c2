using System.Buffers;

namespace Prefork.App;

/// <summary>
/// Arrays rented from the shared pool by the buffers an idle connection gives back, where the empty array stands
/// for "none rented": it is never returned to the pool.
/// </summary>
internal static class PooledArray
{
    /// <summary>A rented array of at least <paramref name="size"/> holding the first <paramref name="kept"/> items of <paramref name="array"/>, which goes back.</summary>
    public static T[] Grow<T>(T[] array, int size, int kept)
    {
        var bigger = ArrayPool<T>.Shared.Rent(size);
        array.AsSpan(0, kept).CopyTo(bigger);
        Return(ref array);
        return bigger;
    }

    /// <summary>Gives <paramref name="array"/> back, if rented, and leaves the empty array in its place.</summary>
    public static void Return<T>(ref T[] array)
    {
        if (array.Length > 0) ArrayPool<T>.Shared.Return(array);
        array = [];
    }
}
