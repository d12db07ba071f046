//! Chat prompts: the model's own `tokenizer.chat_template` rendered with minijinja the way
//! Hugging Face renders it (trim_blocks, lstrip_blocks, `messages`, `add_generation_prompt`,
//! `bos_token`, `eos_token`, `raise_exception`), or ChatML when the file has none.
use minijinja::{context, Environment, ErrorKind};

use super::{ChatMessage, LlmError};

/// ChatML, used when a GGUF carries no chat template (e.g. Gemma 3 base).
pub const CHATML_TEMPLATE: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Strings that end an assistant turn in the common template families; generation stops on
/// any that is a single token of the vocabulary (checked by the engine).
pub const END_OF_TURN_MARKERS: &[&str] = &[
    "<|im_end|>",
    "<end_of_turn>",
    "<|end|>",
    "<|eot_id|>",
    "<|endoftext|>",
];

pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
    /// True when the file had no template and ChatML is used.
    pub is_fallback: bool,
}

fn tmpl_err(e: minijinja::Error) -> LlmError {
    // `{:#}` includes the template line that failed.
    LlmError::Template(format!("{e:#}"))
}

impl ChatTemplate {
    /// A template from its source; `None` gives ChatML.
    pub fn new(source: Option<&str>, bos_token: &str, eos_token: &str) -> Result<Self, LlmError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        // Python string methods (`.strip()`, `.startswith()`…) that HF templates call.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |msg: String| -> Result<String, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, msg))
            },
        );
        // Templates that print a date get a fixed, harmless one: output must not depend on the
        // clock for reproducible prompts.
        env.add_function("strftime_now", |_fmt: String| "26 Jul 2024".to_string());
        let is_fallback = source.is_none();
        let source = source.unwrap_or(CHATML_TEMPLATE).to_string();
        env.add_template_owned("chat", source).map_err(tmpl_err)?;
        Ok(Self {
            env,
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
            is_fallback,
        })
    }

    /// Renders a conversation; with `add_generation_prompt` it ends where the assistant's
    /// reply begins.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, LlmError> {
        let tmpl = self.env.get_template("chat").map_err(tmpl_err)?;
        tmpl.render(context! {
            messages => messages,
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token,
            eos_token => self.eos_token,
        })
        .map_err(tmpl_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::Role;

    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn smollm2_template_adds_default_system_prompt() {
        let t = ChatTemplate::new(Some(SMOLLM2), "<|im_start|>", "<|im_end|>").unwrap();
        let out = t.render(&[ChatMessage::user("Hi?")], true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
        );
        let with_system = t
            .render(
                &[
                    ChatMessage::system("Be brief."),
                    ChatMessage::new(Role::User, "Hi?"),
                ],
                false,
            )
            .unwrap();
        assert_eq!(
            with_system,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n"
        );
    }

    #[test]
    fn fallback_is_chatml() {
        let t = ChatTemplate::new(None, "<bos>", "<eos>").unwrap();
        assert!(t.is_fallback);
        let out = t.render(&[ChatMessage::user("x")], true).unwrap();
        assert_eq!(
            out,
            "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn hf_features_bos_strip_and_raise_exception() {
        let src = "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}\n  {{ m['content'] | trim }}|{{ m.content.strip() }}{% endfor %}";
        let t = ChatTemplate::new(Some(src), "<bos>", "<eos>").unwrap();
        // lstrip_blocks + trim_blocks: the newline after a block tag and the indentation
        // before it are removed, as in Hugging Face's rendering.
        assert_eq!(
            t.render(&[ChatMessage::user(" a ")], true).unwrap(),
            "<bos>  a|a"
        );
        let err = t
            .render(&[ChatMessage::system("s")], true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("System role not supported"), "{err}");
    }
}
