"""What an exercise's own build files declare, made available before the agent starts: fetched once into
the toolchains cache with the network, then graded offline (the way Aider's benchmark image has them).

    cargo   crates in Cargo.toml and the reference solution's .meta/Cargo-example.toml -> `cargo fetch`
    maven   build.gradle's dependency declarations -> resolved from Maven Central with `mvn`
    cmake   CMakeLists.txt's unconditional `find_package(... REQUIRED)` -> probed with a tiny configure

The runners turn these into `Dependencies`; nothing here imports them.
"""
