//! The published facts of each supported dataset: file names, record counts, checksums, label
//! ranges and class names.

use super::{DatasetName, DatasetSpec, IdxFile};

const LETTERS: &[&str] = &[
    "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s",
    "t", "u", "v", "w", "x", "y", "z",
];

pub(super) static EMNIST_LETTERS: DatasetSpec = DatasetSpec {
    name: DatasetName::EmnistLetters,
    classes: 26,
    side: 28,
    first_label: 1,
    transposed: true,
    files: [
        IdxFile {
            name: "emnist-letters-train-images-idx3-ubyte",
            count: 124_800,
            sha256: None,
        },
        IdxFile {
            name: "emnist-letters-train-labels-idx1-ubyte",
            count: 124_800,
            sha256: Some("e8e94c3f4353d5532fd9604b939cb4c76e7847945b9b0d9ff7884d881dead6bc"),
        },
        IdxFile {
            name: "emnist-letters-test-images-idx3-ubyte",
            count: 20_800,
            sha256: None,
        },
        IdxFile {
            name: "emnist-letters-test-labels-idx1-ubyte",
            count: 20_800,
            sha256: Some("22dbcde0a929a7f166bdac863b9195b2994d840a1e082f8f6daaeac5606376a6"),
        },
    ],
    class_names: LETTERS,
};

pub(super) static MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::Mnist,
    classes: 10,
    side: 28,
    first_label: 0,
    transposed: false,
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            count: 60_000,
            sha256: None,
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            count: 60_000,
            sha256: None,
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            count: 10_000,
            sha256: None,
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            count: 10_000,
            sha256: None,
        },
    ],
    class_names: &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
};

pub(super) static FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: DatasetName::FashionMnist,
    classes: 10,
    side: 28,
    first_label: 0,
    transposed: false,
    files: [
        IdxFile {
            name: "train-images-idx3-ubyte",
            count: 60_000,
            sha256: Some("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
        },
        IdxFile {
            name: "train-labels-idx1-ubyte",
            count: 60_000,
            sha256: Some("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
        },
        IdxFile {
            name: "t10k-images-idx3-ubyte",
            count: 10_000,
            sha256: Some("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
        },
        IdxFile {
            name: "t10k-labels-idx1-ubyte",
            count: 10_000,
            sha256: Some("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
        },
    ],
    class_names: &[
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
};
