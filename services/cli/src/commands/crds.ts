import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crdFiles } from '@masksweep/api';
import { Command } from 'commander';

export function crdsCommand(): Command {
  return new Command('crds')
    .description('print the Sweep and Trial CustomResourceDefinitions (generated from the schema)')
    .option('--out <dir>', 'write one file per CRD into this folder instead (k8s/crds)')
    .action((options: { out?: string }) => {
      const files = crdFiles();
      if (!options.out) {
        console.log(files.map((f) => f.text).join('---\n'));
        return;
      }
      mkdirSync(options.out, { recursive: true });
      for (const { file, text } of files) {
        writeFileSync(join(options.out, file), text);
        console.log(join(options.out, file));
      }
    });
}
