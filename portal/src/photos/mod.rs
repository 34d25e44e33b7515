//! Meter photos in the server: a fixed set of worker threads, each owning one Tesseract
//! engine (engines are not `Send` and take ~100 ms to load, so they are made once per worker,
//! on its first photo, and reused), fed through a bounded queue. Reading a photo never blocks
//! the async runtime, and no more photos are read at once than there are workers.

pub mod flow;
pub mod http;
pub mod pages;
pub mod store;

use ingest::photo::{Limits, PhotoError, PhotoExtraction, Reader};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot};

struct Job {
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<PhotoExtraction, PhotoError>>,
}

/// The photo-reading workers. Dropping the last handle stops them.
#[derive(Clone)]
pub struct PhotoReaders {
    jobs: mpsc::Sender<Job>,
    workers: usize,
}

impl std::fmt::Debug for PhotoReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PhotoReaders")
            .field("workers", &self.workers)
            .finish()
    }
}

impl PhotoReaders {
    /// Starts `workers` threads (at least one). Each loads its engine on its first photo; a
    /// missing OCR model is then that photo's error, not the server's.
    pub fn start(workers: usize, limits: Limits) -> Self {
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::channel::<Job>(workers * 4);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = queue.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("photo-reader-{i}"))
                .spawn(move || work(&queue, limits));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a photo reader thread");
            }
        }
        PhotoReaders { jobs, workers }
    }

    /// Reads one photo on a worker.
    pub async fn read(&self, bytes: Vec<u8>) -> Result<PhotoExtraction, PhotoError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || PhotoError::Engine("the photo readers have stopped".into());
        self.jobs
            .send(Job { bytes, reply })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn work(queue: &Mutex<mpsc::Receiver<Job>>, limits: Limits) {
    let mut reader: Option<Reader> = None;
    loop {
        let job = {
            let Ok(mut queue) = queue.lock() else {
                return;
            };
            match queue.blocking_recv() {
                Some(job) => job,
                None => return,
            }
        };
        let result = read_with(&mut reader, limits, &job.bytes);
        // the asker may have gone (its request timed out): nothing to do about it
        let _ = job.reply.send(result);
    }
}

/// Reads with the worker's engine, loading it first if needed. A panic inside the OCR library
/// is that photo's error; the engine is dropped and loaded afresh for the next photo.
fn read_with(
    slot: &mut Option<Reader>,
    limits: Limits,
    bytes: &[u8],
) -> Result<PhotoExtraction, PhotoError> {
    let reader = match slot {
        Some(reader) => reader,
        None => slot.insert(Reader::new(limits)?),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.read(bytes))) {
        Ok(result) => result,
        Err(_) => {
            *slot = None;
            Err(PhotoError::Engine(
                "the OCR engine failed on this photo".into(),
            ))
        }
    }
}
