/**
 * Progress is reported through a callback so that nothing below cli/ prints.
 * The CLI turns it into cli-progress bars on stderr when stderr is a TTY.
 */
export interface ProgressBar {
  update(done: number): void;
  stop(): void;
}
export type ProgressFactory = (label: string, total: number, unit: "bytes" | "files") => ProgressBar;

export const noProgress: ProgressFactory = () => ({ update() {}, stop() {} });
