#!/usr/bin/env node
/**
 * The `chorus` command. Each file in cli/commands/ adds one subcommand tree: it exports
 * `register(program: Command): void`. Files are discovered at start, so adding a command never edits this root.
 */
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command } from "commander";

export interface CommandModule {
  register(program: Command): void;
}

const commandsDir = new URL("./commands/", import.meta.url);

export async function buildProgram(): Promise<Command> {
  const program = new Command("chorus")
    .description("Chorus: real-time ad decisioning over NATS")
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  const files = (existsSync(commandsDir) ? readdirSync(commandsDir) : [])
    .filter((f) => /\.(ts|js)$/.test(f) && !/\.(spec|test|d)\.(ts|js)$/.test(f))
    .sort();
  for (const file of files) {
    const mod = (await import(new URL(file, commandsDir).href)) as Partial<CommandModule>;
    if (typeof mod.register !== "function") throw new Error(`cli/commands/${file} must export register(program)`);
    mod.register(program);
  }
  return program;
}

// Run only as the entry point (also through the npm bin symlink), not when a test imports buildProgram.
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await (await buildProgram()).parseAsync(process.argv);
  } catch (err) {
    console.error(`chorus: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}
