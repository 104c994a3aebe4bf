import { decodeGray } from '@masksweep/data';
import {
  createMaskGenerator,
  getMaskPattern,
  type MaskGrid,
  type MaskSetting,
  maskedCount,
  maskLabel,
  maskTypes,
  renderMaskOverlay,
  toRows,
  writeRgbPng,
} from '@masksweep/masks';
import { Random } from '@masksweep/random';
import { Command } from 'commander';
import { collectOption, parseFormat, parseInteger, parseNumber, UsageError } from '../options.js';
import { table } from '../table.js';

interface SettingOptions {
  type: string;
  ratio: number;
  size: number;
  grid: number;
  seed: number;
  option: Record<string, unknown>;
}

/** The options every mask subcommand shares: what to draw and with which seed. */
function withSettingOptions(command: Command, { typeRequired = true } = {}): Command {
  const typeHelp = `mask type: ${maskTypes().join(', ')}`;
  return (
    typeRequired
      ? command.requiredOption('--type <type>', typeHelp)
      : command.option('--type <type>', typeHelp)
  )
    .option(
      '--ratio <r>',
      'mask ratio in (0, 1), for ratio-based types',
      parseNumber('--ratio'),
      0.6,
    )
    .option('--size <k>', 'square side in patches, for square', parseInteger('--size', 1), 2)
    .option('--grid <g>', 'patches per side (7 for 224 px input)', parseInteger('--grid', 1), 7)
    .option('--seed <s>', 'random seed', parseInteger('--seed', 0), 0)
    .option(
      '--option <key=value>',
      'a generator option, e.g. overflow=clamp (repeatable)',
      collectOption,
      {},
    );
}

function settingOf(options: SettingOptions): MaskSetting {
  const axis = getMaskPattern(options.type).axis;
  return {
    type: options.type,
    [axis]: axis === 'ratio' ? options.ratio : options.size,
    ...options.option,
  };
}

interface RenderOptions {
  image: string;
  out: string;
  px?: number;
  unmasked?: boolean;
}

export function masksCommand(): Command {
  const masks = new Command('masks').description('draw, print and render the mask patterns');

  masks
    .command('list')
    .description('the mask types, their axis and options with defaults')
    .action(() => {
      const rows = maskTypes().map((type) => {
        const pattern = getMaskPattern(type);
        const options = Object.entries(pattern.options.properties)
          .map(([name, schema]) => `${name}=${(schema as { default?: unknown }).default ?? '-'}`)
          .join(' ');
        return [type, pattern.axis, pattern.summary, options];
      });
      console.log(table(['TYPE', 'AXIS', 'PATTERN', 'OPTIONS (defaults)'], rows));
    });

  withSettingOptions(masks.command('sample'))
    .description('print masks as grids of 0/1 (1 = masked), row-major, drawn as one batch')
    .option('--count <n>', 'how many masks', parseInteger('--count', 1), 1)
    .option('--format <text|json>', 'output format', parseFormat(['text', 'json'] as const), 'text')
    .action((options: SettingOptions & { count: number; format: 'text' | 'json' }) => {
      const generator = createMaskGenerator(settingOf(options), options.grid);
      const grids = generator.generate(options.count, new Random(options.seed));
      if (options.format === 'json') {
        console.log(JSON.stringify(grids.map((g) => toRows(g, options.grid))));
        return;
      }
      for (const [i, grid] of grids.entries()) {
        console.log(
          `# ${i}: ${maskLabel(generator.setting)}, ${maskedCount(grid)} of ${grid.length} masked`,
        );
        console.log(drawGrid(grid, options.grid));
      }
    });

  withSettingOptions(masks.command('render'), { typeRequired: false })
    .description("draw one mask over a CT slice as a PNG, like the paper's figures 5-10")
    .requiredOption('--image <png>', 'the slice (any size; converted to gray and resized)')
    .requiredOption('--out <png>', 'where to write the picture')
    .option('--px <n>', 'picture side in px (default: 32 per patch)', parseInteger('--px', 8))
    .option('--unmasked', "only the patch grid, no mask (the paper's figure 5)")
    .action(async (options: Partial<SettingOptions> & RenderOptions) => {
      const grid = options.grid ?? 7;
      let mask: MaskGrid = new Uint8Array(grid * grid);
      let label = 'unmasked';
      if (!options.unmasked) {
        if (!options.type) throw new UsageError('masks render needs --type, or --unmasked');
        const generator = createMaskGenerator(settingOf(options as SettingOptions), grid);
        mask = (generator.generate(1, new Random(options.seed ?? 0)) as [MaskGrid])[0];
        label = maskLabel(generator.setting);
      }
      const image = await decodeGray(options.image, { size: options.px ?? grid * 32 });
      await writeRgbPng(renderMaskOverlay(image, mask, grid), options.out);
      console.log(
        `wrote ${options.out}: ${label}, ${maskedCount(mask)} of ${mask.length} patches masked`,
      );
    });

  return masks;
}

function drawGrid(grid: MaskGrid, size: number): string {
  return toRows(grid, size)
    .map((row) => row.map((cell) => (cell ? '#' : '.')).join(' '))
    .join('\n');
}
