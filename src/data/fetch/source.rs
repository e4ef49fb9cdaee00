//! Where each dataset's files are published ([`Source`]), with their checksums.

use crate::data::DatasetName;

/// Where a dataset's four files come from (train images, train labels, test images, test labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// One zip archive holding the files as gzip members; each `(member path, sha256 of the
    /// member's bytes)`.
    Zip {
        /// Address of the archive.
        url: String,
        /// Member paths inside the archive, with their checksums.
        members: [(String, Option<String>); 4],
    },
    /// Four files under one base address; each `(file name, sha256 of its uncompressed content)`.
    Files {
        /// Address of the folder holding the files.
        base_url: String,
        /// File names under `base_url`, with their checksums.
        files: [(String, Option<String>); 4],
    },
}

impl Source {
    /// The same files from a mirror: the zip's address, or the folder holding the files.
    pub fn with_url(self, url: &str) -> Self {
        match self {
            Source::Zip { members, .. } => Source::Zip {
                url: url.to_string(),
                members,
            },
            Source::Files { files, .. } => Source::Files {
                base_url: url.to_string(),
                files,
            },
        }
    }
}

/// The official address of `name`, with the checksums recorded for it.
pub fn official_source(name: DatasetName) -> Source {
    let spec = name.spec();
    let gz = |i: usize| format!("{}.gz", spec.files[i].name);
    match name {
        DatasetName::EmnistLetters => {
            let member_sha = [
                "6288f418a917e007bf5fddb823a2dc7a5c6a35031401b93292a539cb12bd881f",
                "9759af91ea6bccdf07a6040fd085861f2ec88e37f7c3f5760f6feb57106fbe5c",
                "50f0e93d75b99b463e9760b8345866f22587fa2c2fba472730a5ba09c693412d",
                "924955c31fe7fd809b7303b5c0141282955f4b8390c74cdfd5d80435e0f4b4cb",
            ];
            Source::Zip {
                url: "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip".to_string(),
                members: std::array::from_fn(|i| {
                    (format!("gzip/{}", gz(i)), Some(member_sha[i].to_string()))
                }),
            }
        }
        DatasetName::FashionMnist | DatasetName::Mnist => Source::Files {
            base_url: if name == DatasetName::Mnist {
                "https://ossci-datasets.s3.amazonaws.com/mnist/"
            } else {
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
            }
            .to_string(),
            files: std::array::from_fn(|i| (gz(i), spec.files[i].sha256.map(str::to_string))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_sources_name_the_spec_files() {
        for name in DatasetName::ALL {
            let spec = name.spec();
            let names: Vec<String> = match official_source(name) {
                Source::Zip { members, .. } => members.into_iter().map(|m| m.0).collect(),
                Source::Files { files, .. } => files.into_iter().map(|f| f.0).collect(),
            };
            for (n, f) in names.iter().zip(&spec.files) {
                assert!(n.ends_with(&format!("/{}.gz", f.name)) || *n == format!("{}.gz", f.name));
            }
        }
    }
}
