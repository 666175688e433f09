//! `minik-controller`: the executable; its flags and start are [`minik_controller::cli`].

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    minik_controller::cli::main(std::env::args_os())
}
