/** Readable random run names (adjective-animal-number), the way MLflow names unnamed runs. */
import { randomInt } from 'node:crypto';

const ADJECTIVES = [
  'agile', 'amazing', 'ambitious', 'bold', 'brave', 'bright', 'calm', 'capable', 'caring', 'clean',
  'clever', 'crisp', 'curious', 'dapper', 'daring', 'eager', 'earnest', 'enchanting', 'fair', 'fearless',
  'gentle', 'glowing', 'graceful', 'handsome', 'honest', 'humble', 'intelligent', 'jolly', 'kindly', 'lively',
  'loud', 'lucky', 'merciful', 'mighty', 'nimble', 'patient', 'placid', 'polite', 'quick', 'quiet',
  'rare', 'resilient', 'rogue', 'salty', 'shy', 'silent', 'skillful', 'smiling', 'sneaky', 'stately',
  'steady', 'sunny', 'swift', 'tasteful', 'thoughtful', 'tidy', 'trusting', 'upbeat', 'valuable', 'vibrant',
  'victorious', 'warm', 'wise', 'witty', 'youthful', 'zealous',
];

const ANIMALS = [
  'ant', 'ape', 'asp', 'bass', 'bat', 'bear', 'bee', 'bird', 'boar', 'bug', 'calf', 'carp', 'cat', 'chimp',
  'cod', 'colt', 'conch', 'cow', 'crab', 'crane', 'croc', 'crow', 'cub', 'deer', 'doe', 'dog', 'dolphin',
  'donkey', 'dove', 'duck', 'eel', 'elk', 'fawn', 'finch', 'fish', 'flea', 'fly', 'foal', 'fowl', 'fox',
  'frog', 'gnat', 'gnu', 'goat', 'goose', 'grouse', 'grub', 'gull', 'hare', 'hawk', 'hen', 'hog', 'horse',
  'hound', 'jay', 'kit', 'kite', 'koi', 'lamb', 'lark', 'loon', 'lynx', 'mare', 'midge', 'mink', 'mole',
  'moose', 'moth', 'mouse', 'mule', 'newt', 'owl', 'ox', 'panda', 'penguin', 'perch', 'pig', 'pug', 'quail',
  'ram', 'rat', 'ray', 'robin', 'roo', 'rook', 'seal', 'shad', 'shark', 'sheep', 'shoat', 'shrew', 'shrike',
  'shrimp', 'skink', 'skunk', 'sloth', 'slug', 'smelt', 'snail', 'snake', 'snipe', 'sow', 'sponge', 'squid',
  'stag', 'steed', 'stoat', 'stork', 'swan', 'tern', 'toad', 'trout', 'turtle', 'vole', 'wasp', 'whale',
  'wolf', 'worm', 'wren', 'yak', 'zebra',
];

/** A source of uniform integers in [0, max); injected so tests are deterministic. */
export type RandomInt = (max: number) => number;

/** Returns a name like `brave-owl-417`. */
export function generateRunName(random: RandomInt = randomInt): string {
  const adjective = ADJECTIVES[random(ADJECTIVES.length)] ?? 'steady';
  const animal = ANIMALS[random(ANIMALS.length)] ?? 'owl';
  return `${adjective}-${animal}-${random(1000)}`;
}
