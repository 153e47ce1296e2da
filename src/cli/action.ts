import type { Command } from 'commander';
import { Runtime } from './runtime.js';

export interface CliEnvironment {
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  stdout: (text: string) => void;
  cwd: string;
}

export type CommandBody<O> = (rt: Runtime, args: string[], options: O) => Promise<void>;

/** Wraps a command body: builds its Runtime from the global options, and always closes what it opened. */
export type ActionFactory = <O = Record<string, unknown>>(
  body: CommandBody<O>,
) => (...args: unknown[]) => Promise<void>;

export function actionFactory(environment: CliEnvironment): ActionFactory {
  return <O>(body: CommandBody<O>) =>
    async (...args: unknown[]) => {
      const cmd = args.at(-1) as Command;
      const options = args.at(-2) as O;
      const positional = args
        .slice(0, -2)
        .flat()
        .filter((a): a is string => typeof a === 'string');
      const rt = Runtime.fromCommand(cmd, environment.env, environment.signal, environment.stdout);
      try {
        await body(rt, positional, options);
      } finally {
        await rt.close();
      }
    };
}
