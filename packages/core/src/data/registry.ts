import { CifarLayout, CIFAR_SHAPE } from './cifar';
import { ImageShape, Split } from './dataset';

/** A file to download: its name under a base URL and its published checksum(s). */
export interface RemoteFile {
  file: string;
  md5?: string;
  sha256?: string;
}

/** A Debian package that ships the same data (possibly recompressed, hence its own checksums). */
export interface DebianSource {
  package: string;
  dir: string;
  /** md5 of each file as shipped by the package (also listed in /var/lib/dpkg/info/<package>.md5sums). */
  md5: Record<string, string>;
}

interface BaseSpec {
  name: string;
  description: string;
  /** Base URLs tried in order (official first); `--mirror` replaces them all. */
  urls: string[];
  shape: ImageShape;
  numClasses: number;
  classNames: string[];
  counts: Record<Split, number>;
}

export interface IdxDatasetSpec extends BaseSpec {
  format: 'idx';
  files: Record<Split, { images: RemoteFile; labels: RemoteFile }>;
  debian?: DebianSource;
}

export interface CifarDatasetSpec extends BaseSpec {
  format: 'cifar';
  archive: RemoteFile;
  layout: CifarLayout;
}

export type DatasetSpec = IdxDatasetSpec | CifarDatasetSpec;

// Checksums are the publishers' own: Fashion-MNIST README table, the CIFAR page (binary versions), and
// the MNIST md5s that torchvision's datasets/mnist.py verifies.
const FASHION_MNIST: IdxDatasetSpec = {
  name: 'fashion-mnist',
  description: 'Zalando Fashion-MNIST: 28x28 grayscale clothing images, 10 classes, 60000 train / 10000 test',
  format: 'idx',
  urls: ['http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/'],
  shape: [28, 28, 1],
  numClasses: 10,
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  counts: { train: 60000, test: 10000 },
  files: {
    train: {
      images: { file: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
      labels: { file: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
    },
    test: {
      images: { file: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
      labels: { file: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
    },
  },
  // Debian recompresses the .gz files (same IDX content, different gzip bytes), so the upstream md5s do
  // not match; these are the package's own md5sums for version 0.0~git20200523.55506a9-1.
  debian: {
    package: 'dataset-fashion-mnist',
    dir: '/usr/share/datasets/fashion-mnist',
    md5: {
      'train-images-idx3-ubyte.gz': 'cf8536b0aa1a6ac5fa3f23001093305c',
      'train-labels-idx1-ubyte.gz': '10bea18fdb374794d4bb42e356e600c9',
      't10k-images-idx3-ubyte.gz': 'f78720b4224f21cce2f2ccf2d7a94c9a',
      't10k-labels-idx1-ubyte.gz': '0d30e22e447f3c33dab9ed536400ac01',
    },
  },
};

const MNIST: IdxDatasetSpec = {
  name: 'mnist',
  description: 'MNIST handwritten digits: 28x28 grayscale, 10 classes, 60000 train / 10000 test',
  format: 'idx',
  urls: ['http://yann.lecun.com/exdb/mnist/', 'https://ossci-datasets.s3.amazonaws.com/mnist/'],
  shape: [28, 28, 1],
  numClasses: 10,
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  counts: { train: 60000, test: 10000 },
  files: {
    train: {
      images: { file: 'train-images-idx3-ubyte.gz', md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
      labels: { file: 'train-labels-idx1-ubyte.gz', md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
    },
    test: {
      images: { file: 't10k-images-idx3-ubyte.gz', md5: '9fb629c4189551a2d022fa330f9573f3' },
      labels: { file: 't10k-labels-idx1-ubyte.gz', md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
    },
  },
};

const CIFAR10: CifarDatasetSpec = {
  name: 'cifar10',
  description: 'CIFAR-10: 32x32 colour images, 10 classes, 50000 train / 10000 test (binary version)',
  format: 'cifar',
  urls: ['https://www.cs.toronto.edu/~kriz/'],
  shape: [...CIFAR_SHAPE],
  numClasses: 10,
  classNames: ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'],
  counts: { train: 50000, test: 10000 },
  archive: { file: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
  layout: {
    root: 'cifar-10-batches-bin',
    members: {
      train: ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'],
      test: ['test_batch.bin'],
    },
    labelRanges: [10],
    labelIndex: 0,
  },
};

/** CIFAR-100 fine labels, in label order (alphabetical), as in the archive's fine_label_names.txt. */
const CIFAR100_FINE_NAMES = (
  'apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly camel can ' +
  'castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup dinosaur dolphin ' +
  'elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion lizard lobster ' +
  'man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear pickup_truck ' +
  'pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk ' +
  'skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger ' +
  'tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm'
).split(' ');

const CIFAR100: CifarDatasetSpec = {
  name: 'cifar100',
  description: 'CIFAR-100: 32x32 colour images, 100 fine classes, 50000 train / 10000 test (binary version)',
  format: 'cifar',
  urls: ['https://www.cs.toronto.edu/~kriz/'],
  shape: [...CIFAR_SHAPE],
  numClasses: 100,
  classNames: CIFAR100_FINE_NAMES,
  counts: { train: 50000, test: 10000 },
  archive: { file: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' },
  layout: {
    root: 'cifar-100-binary',
    members: { train: ['train.bin'], test: ['test.bin'] },
    labelRanges: [20, 100],
    labelIndex: 1,
  },
};

/** Every dataset MAT knows, by the name used on the command line (`mat data fetch <name>`). */
export const DATASETS: Readonly<Record<string, DatasetSpec>> = {
  'fashion-mnist': FASHION_MNIST,
  mnist: MNIST,
  cifar10: CIFAR10,
  cifar100: CIFAR100,
};

export const DATASET_NAMES = Object.keys(DATASETS);

export function getDatasetSpec(name: string): DatasetSpec {
  const spec = DATASETS[name];
  if (!spec) throw new Error(`unknown dataset "${name}"; known datasets: ${DATASET_NAMES.join(', ')}`);
  return spec;
}

/** The files a dataset needs on disk (downloaded under `<dataDir>/<name>/`). */
export function remoteFiles(spec: DatasetSpec): RemoteFile[] {
  if (spec.format === 'cifar') return [spec.archive];
  return [spec.files.train.images, spec.files.train.labels, spec.files.test.images, spec.files.test.labels];
}
