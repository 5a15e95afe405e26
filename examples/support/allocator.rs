//! The examples' and load benches' allocator: jemalloc, chosen by
//! measurement (`bench/load.sh compare` with each allocator preloaded into
//! the same build, BENCHMARKS.md): against the system allocator it served
//! GET by primary key with 5 to 10 % less server CPU per request, where
//! mimalloc made no difference. The library itself leaves the choice to
//! the application; these lines are all it takes.

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
